"""A real Prometheus (Debian's package) as a child process of the test: its own port and storage folder,
the deployment's scrape jobs and rules (deploy/prometheus) pointed at this test's processes."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.ports import free_port
from tests.support.services import reachable, require_service

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "prometheus"
RABBITMQ_METRICS_PORT = 15692


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        require_service("promtool", "not on PATH (Debian: apt-get install prometheus)")
    return found


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        require_service("Prometheus", "not on PATH (Debian: apt-get install prometheus)")
    return found


def rabbitmq_metrics() -> str:
    """``host:port`` of RabbitMQ's Prometheus endpoint; enables the ``rabbitmq_prometheus`` plugin if it is off."""
    where = f"127.0.0.1:{RABBITMQ_METRICS_PORT}"
    if not reachable(f"http://{where}", RABBITMQ_METRICS_PORT) and shutil.which("rabbitmq-plugins"):
        subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_prometheus"], capture_output=True, timeout=120)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not reachable(f"http://{where}", RABBITMQ_METRICS_PORT):
            time.sleep(0.5)
    if not reachable(f"http://{where}", RABBITMQ_METRICS_PORT):
        require_service("RabbitMQ's rabbitmq_prometheus plugin", f"nothing listens at {where}")
    return where


def local_config(
    targets: Mapping[str, Sequence[str]], *, queue_prefix: str | None = None, scrape_seconds: int = 1
) -> dict[str, Any]:
    """The deployment's ``prometheus.yml`` with each job's targets replaced by ``targets[job]`` (jobs left
    out are dropped), short intervals, absolute rule paths, and (``queue_prefix``) only this test's queues."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    interval = f"{scrape_seconds}s"
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval}
    config["rule_files"] = [str(DEPLOY / path) for path in config["rule_files"]]
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in targets:
            continue
        local = {key: value for key, value in job.items() if not key.endswith("_configs")}
        local["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
        if job["job_name"] == "rabbitmq-queues" and queue_prefix:
            keep = queue_prefix.replace(".", "[.]") + ".*"
            local["metric_relabel_configs"] = [{"source_labels": ["queue"], "regex": keep, "action": "keep"}]
        jobs.append(local)
    config["scrape_configs"] = jobs
    return config


class PrometheusServer:
    def __init__(self, config: Mapping[str, Any], folder: Path) -> None:
        self._config = config
        self._folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        config_file = self._folder / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(dict(self._config), sort_keys=False))
        log = (self._folder / "prometheus.log").open("wb")
        command = [
            prometheus_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={self._folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self._process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"prometheus was not ready after {timeout}s: {self.log()[-2000:]}")

    def log(self) -> str:
        path = self._folder / "prometheus.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None
