"""promtool (Debian's prometheus package) checks the deployment's Prometheus configuration and rules, and
runs the alerts' unit tests: each alert fires on the series meant to fire it and not on the others."""

from __future__ import annotations

import subprocess

import yaml

from tests.support.prometheus import DEPLOY, promtool


def _promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *arguments], cwd=DEPLOY, capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_configuration() -> None:
    done = _promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rule files found" in done.stdout


def test_promtool_accepts_the_rules() -> None:
    done = _promtool("check", "rules", "rules/recording.yml", "rules/alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_and_stays_quiet_in_promtools_unit_tests() -> None:
    done = _promtool("test", "rules", "tests/alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((DEPLOY / "rules" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    tests = yaml.safe_load((DEPLOY / "tests" / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert fired == alerts
    assert quiet == alerts  # and each is also quiet for the neighbours of the series that fire it
    for test in tests:
        for case in test.get("alert_rule_test", []):
            for expected in case["exp_alerts"]:
                assert len(test["input_series"]) > len(case["exp_alerts"]), "a series that must not fire is missing"
                assert expected["exp_labels"]["severity"] in ("warning", "critical")


def test_every_scrape_job_a_deployment_needs_is_there() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"scheduler", "health", "reporter", "api", "trainer", "rabbitmq", "rabbitmq-queues"}
    assert jobs["trainer"]["dns_sd_configs"] == [{"names": ["trainer"], "type": "A", "port": 9100}]
    assert jobs["rabbitmq-queues"]["params"]["family"] == ["queue_coarse_metrics", "queue_consumer_count"]
