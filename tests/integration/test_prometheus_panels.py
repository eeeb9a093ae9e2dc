"""Every dashboard panel against a real Prometheus scraping the real services of a distributed study.

Scheduler, health and reporter as their own processes, one Keras trainer on the digits data and two
synthetic trainers, RabbitMQ's rabbitmq_prometheus plugin, and Prometheus (Debian's package) scraping
them all with the deployment's own scrape jobs and rules (deploy/prometheus). Once the study is
reported, every query of every panel and template variable runs through Prometheus' HTTP API with the
variables filled as Grafana would offer them and its interval macros substituted; any that errors or
returns no series fails the test (the GPU panels must be empty on a machine without a GPU). Every
recording and alerting rule must evaluate without error, and the snapshot of the training-live panels
is drawn from the same queries.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from contracts.enums import DatasetName, Mode, ParamType
from contracts.events import TrialStarted
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from dashboards.model import Dashboard, load_all, queries, variables
from dashboards.promql import Intervals, Prometheus, PrometheusError, expand, variable_options
from services.cli.main import EXIT_OK, main
from tests.integration.cluster import Cluster, Processes
from tests.support.http import http_get, is_ready
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusServer, local_config, prometheus_binary, rabbitmq_metrics
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
KERAS_TRAINER = "trainer-keras"
SYNTHETIC_TRAINERS = ("trainer-1", "trainer-2")
HAS_GPU = shutil.which("nvidia-smi") is not None


def _api(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as answer:
        return json.loads(answer.read())["data"]


def _has_series(prometheus: Prometheus, expr: str) -> bool:
    try:
        return bool(prometheus.query(expr, time.time()))
    except PrometheusError:
        return False


def _choose_variables(
    prometheus: Prometheus, dashboard: Dashboard, study_id: str, start: float, end: float
) -> dict[str, str]:
    """Each variable's options as Grafana would list them; the study's id, the Keras trainer, every service."""
    chosen: dict[str, str] = {}
    for variable in variables(dashboard):
        options = variable_options(prometheus, variable, chosen, start, end)
        values = {value for _, value in options}
        if variable.name == "study":
            assert study_id in values, (variable, options)
            assert dict(options)["panels"] == study_id, options  # the study's name is what a person picks
            chosen["study"] = study_id
        elif variable.name == "trainer":
            assert KERAS_TRAINER in values and values & set(SYNTHETIC_TRAINERS), options
            chosen["trainer"] = KERAS_TRAINER
        elif variable.name == "service":
            assert {"scheduler", "health", "reporter", "trainer"} <= values, options
            chosen["service"] = variable.all_value
        else:
            raise AssertionError(f"no value chosen for variable {variable.name}")
    return chosen


def _run_every_query(
    prometheus: Prometheus, study_id: str, start: float, end: float
) -> tuple[int, list[str], list[str]]:
    """(expressions run, failures, the panels of each dashboard) over [start, end]."""
    intervals = Intervals.for_range(end - start, scrape_seconds=1)
    ran, failures, listing = 0, [], []
    for dashboard in load_all():
        chosen = _choose_variables(prometheus, dashboard, study_id, start, end)
        ran += len(chosen)  # each variable's query ran once to list its options
        titles: list[str] = []
        for query in queries(dashboard):
            if query.panel_title not in titles:
                titles.append(query.panel_title)
            expr = expand(query.expr, chosen, intervals)
            where = f"{query.dashboard} / {query.panel_title} / {query.ref_id}: {expr}"
            try:
                if query.instant:
                    result = prometheus.query(expr, end)
                else:
                    result = prometheus.query_range(expr, start, end, intervals.interval_seconds)
            except PrometheusError as exc:
                failures.append(f"{where}: {exc}")
                continue
            ran += 1
            if "hpo_trainer_gpu_" in query.expr and not HAS_GPU:
                if result:
                    failures.append(f"{where}: GPU series on a machine without a GPU: {result[:1]}")
            elif not result:
                failures.append(f"{where}: no series")
        listing.append(f"{dashboard['title']}: {'; '.join(titles)}")
    return ran, failures, listing


def _check_rules(url: str, prometheus: Prometheus) -> int:
    groups = _api(url, "/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {group["name"] for group in groups} == {"hpo-recording", "hpo-alerts"}
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        assert not rule["lastEvaluation"].startswith("0001"), f"{rule['name']} was never evaluated"
        if rule["type"] == "recording":
            assert _has_series(prometheus, rule["name"]), f"{rule['name']} recorded nothing"
    return len(rules)


def _artifacts() -> Path:
    folder = Path(os.environ.get("HPO_TEST_ARTIFACTS", REPO / ".hpo_home" / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_every_panel_and_rule_works_on_a_real_prometheus_during_a_distributed_study(
    cluster: Cluster, processes: Processes, sandbox: dict[str, str], tmp_path: Path
) -> None:
    broker_metrics = rabbitmq_metrics()
    prometheus_binary()
    await cluster.start(trainers=0)
    trainer_ports = {name: free_port() for name in (KERAS_TRAINER, *SYNTHETIC_TRAINERS)}
    targets = {
        **{name: [f"127.0.0.1:{processes.ports[name]}"] for name in ("scheduler", "health", "reporter")},
        "trainer": [f"127.0.0.1:{port}" for port in trainer_ports.values()],
        "rabbitmq": [broker_metrics],
        "rabbitmq-queues": [broker_metrics],
    }
    server = PrometheusServer(local_config(targets, queue_prefix=sandbox["prefix"]), tmp_path / "prometheus")
    server.start()
    prometheus = Prometheus(server.url)
    started = time.time()
    try:
        processes.start(
            "trainer", KERAS_TRAINER, trainer_ports[KERAS_TRAINER],
            HPO_TRAINER_TRAINER_ID=KERAS_TRAINER, HPO_TRAINER_MODE="keras",
        )  # fmt: skip
        await eventually(lambda: is_ready(trainer_ports[KERAS_TRAINER]), "the Keras trainer", timeout=60)
        tanh = ParamSpec(name="activation", type=ParamType.CATEGORICAL, choices=["tanh"])  # units that can saturate
        config = StudyConfig(
            dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=3, seed=11,
            search_space=[tanh],
        )  # fmt: skip
        study_id = await cluster.submit("panels", config)

        def keras_started() -> bool:
            return any(isinstance(e, TrialStarted) and e.data.trainer_id == KERAS_TRAINER for e in cluster.seen)

        await eventually(keras_started, "a trial on the Keras trainer", timeout=180, interval=0.2)
        for name in SYNTHETIC_TRAINERS:  # they take the other trials while the Keras one trains
            processes.start(
                "trainer", name, trainer_ports[name], HPO_TRAINER_TRAINER_ID=name, HPO_TRAINER_SYNTHETIC_SECONDS="3"
            )
        health_queue = sandbox["prefix"] + "health"
        zero = f'hpo_messages_dead_lettered_total{{queue="{health_queue}", cause="malformed"}} == 0'
        # the alert needs a scraped zero before the dead letter (Prometheus's first scrape can come seconds late)
        await eventually(lambda: _has_series(prometheus, zero), "the dead-letter counters scraped at zero", timeout=60)
        await cluster.bus.publish_raw("trial.completed", b"{not json")  # one dead letter per consuming queue
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=420, interval=0.5)

        needed = [
            f'hpo_trial_health{{study="{study_id}"}}',
            f'hpo_layer_dead_fraction{{study="{study_id}", trainer="{KERAS_TRAINER}"}}',
            f'hpo_study_best_score{{study="{study_id}"}}',
            'hpo:trials:per_minute{state="completed"}',
        ]
        await eventually(
            lambda: all(_has_series(prometheus, expr) for expr in needed), "the final values scraped", timeout=60
        )
        await asyncio.sleep(5)  # a few more scrapes and rule evaluations after the last change

        ran, failures, listing = _run_every_query(prometheus, study_id, started - 30, time.time())
        assert not failures, "\n".join(failures)
        assert ran >= 40
        rules = _check_rules(server.url, prometheus)
        firing = _api(server.url, "/api/v1/alerts")["alerts"]
        dead = {a["labels"]["queue"] for a in firing if a["labels"]["alertname"] == "HpoDeadLettersIncreasing"}
        assert f"{sandbox['prefix']}health" in dead, firing

        status, exported = http_get(trainer_ports[KERAS_TRAINER], "/metrics")
        assert status == 200
        series = [line for line in exported.splitlines() if line and not line.startswith("#")]

        png = _artifacts() / "training-live.png"
        arguments = ["dashboards", "snapshot", "--prometheus-url", server.url, "--study", study_id]
        arguments += ["--trainer", KERAS_TRAINER, "--since", "15m", "--output", str(png)]
        assert await asyncio.to_thread(main, arguments) == EXIT_OK
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width >= 1200 and image.height >= 1000
            image.verify()
        print(f"\nexpressions={ran} failures=0 rules={rules} keras_trainer_series={len(series)} snapshot={png}")
        print("\n".join(listing))
    finally:
        server.stop()
        await cluster.stop(tmp_path / "logs")
