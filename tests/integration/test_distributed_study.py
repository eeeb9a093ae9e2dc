"""Whole studies with every service as its own process on RabbitMQ and Postgres: synthetic trainers
under crashes and restarts, and three Keras trainers on the MNIST sample whose results folder has
exactly the files of the same study run embedded."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest

from contracts.enums import DatasetName, Mode
from contracts.events import (
    Event,
    ReportReady,
    StudyCompleted,
    StudyCreated,
    StudyCreatedData,
    TrialCompleted,
    TrialEpochCompleted,
    TrialRequested,
    TrialStarted,
)
from contracts.study import StudyConfig
from services.cli.main import EXIT_OK, main
from services.runtime.bus.amqp import AmqpBus
from tests.conftest import SHARED_DATASETS
from tests.integration.support import free_port, is_ready, wait_until
from tests.s3_fixtures import S3Server

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, service: str, name: str, port: int, **extra: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        env = {**self.env, "HPO_HTTP_PORT": str(port), **extra}
        command = [sys.executable, "-m", "services.cli.main", "serve", service]
        self.running.append((name, subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)))

    def by_name(self, name: str) -> subprocess.Popen[bytes]:
        return next(process for known, process in self.running if known == name)

    def forget(self, name: str) -> None:
        self.running = [(known, process) for known, process in self.running if known != name]

    def stop_all(self) -> dict[str, int | None]:
        for _, process in self.running:
            process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, process in self.running:
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = None
        return codes


@pytest.fixture
def processes(amqp_url: str, postgres_url: str, sandbox: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    env = {
        **os.environ,
        "HPO_AMQP_URL": amqp_url,
        "HPO_EXCHANGE": sandbox["exchange"],
        "HPO_QUEUE_PREFIX": sandbox["prefix"],
        "HPO_HTTP_HOST": "127.0.0.1",
        "HPO_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "HPO_SCHEDULER_OPTUNA_STORAGE": postgres_url,
        "HPO_SCHEDULER_LEASE_SECONDS": "20",
        "HPO_REPORTER_DATABASE_URL": postgres_url,
        "HPO_REPORTER_RESULTS_ROOT": str(tmp_path / "results"),
        "HPO_REPORTER_PLOT_WORKERS": "1",
        "HPO_TRAINER_MODE": "synthetic",
        "HPO_TRAINER_SYNTHETIC_SECONDS": "0.3",
        "HPO_TRAINER_HEARTBEAT_SECONDS": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "services.cli.main", "db", "upgrade", "--database-url", postgres_url],
        cwd=REPO, env=env, check=True, capture_output=True,
    )  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Processes(env, logs)
    yield running
    running.stop_all()


class Cluster:
    """Every service as its own process, plus an observer on the bus that records every event."""

    def __init__(self, processes: Processes, amqp_url: str, sandbox: dict[str, str]) -> None:
        self.processes = processes
        self.bus = AmqpBus(amqp_url, exchange=sandbox["exchange"], queue_prefix=sandbox["prefix"])
        self.seen: list[Event] = []

    async def start(self, trainers: int, **trainer_env: str) -> None:
        ports = [free_port() for _ in range(3 + trainers)]
        for service, port in zip(("scheduler", "health", "reporter"), ports, strict=False):
            self.processes.start(service, service, port)
        for index, port in enumerate(ports[3:], start=1):
            self.processes.start(
                "trainer", f"trainer-{index}", port, HPO_TRAINER_TRAINER_ID=f"trainer-{index}", **trainer_env
            )
        async with asyncio.timeout(60):  # every service has declared its queue once it is ready
            while not all(is_ready(port) for port in ports):
                await asyncio.sleep(0.2)
        await self.bus.start()

        async def observe(event: Event) -> None:
            self.seen.append(event)

        await self.bus.subscribe("observer", ["#"], observe, prefetch=100)

    async def submit(self, name: str, config: StudyConfig) -> str:
        study_id = uuid.uuid4().hex
        await self.bus.publish(
            StudyCreated(source="test", study_id=study_id, data=StudyCreatedData(study_name=name, config=config))
        )
        return study_id

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        await wait_until(predicate, timeout)

    def reported(self, study_id: str) -> bool:
        return any(isinstance(e, ReportReady) and e.study_id == study_id for e in self.seen)

    async def stop(self, logs: Path) -> None:
        await self.bus.close()
        codes = self.processes.stop_all()
        tails = {p.name: p.read_text()[-1500:] for p in logs.iterdir()}
        assert all(code == 0 for code in codes.values()), (codes, tails)


@pytest.fixture
async def cluster(processes: Processes, amqp_url: str, sandbox: dict[str, str]) -> Cluster:
    return Cluster(processes, amqp_url, sandbox)


def _assert_finished(postgres_url: str, study_id: str, trials: int, results: Path, name: str) -> None:
    study_dir = results / name
    for file in ("report.md", "report.html", "best_params.yaml", "trials.csv"):
        assert (study_dir / file).is_file(), file
    assert (results / f"{name}.zip").is_file()
    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    assert len([r for r in rows if r["state"] in ("completed", "pruned")]) == trials
    study = optuna.load_study(study_name=study_id, storage=optuna.storages.RDBStorage(postgres_url))
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert (
        len([t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)])
        == trials
    )


async def test_a_study_runs_across_separate_service_processes(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    processes.env |= {
        "HPO_S3_ENDPOINT": s3_server.endpoint,
        "HPO_S3_ACCESS_KEY": s3_server.access_key,
        "HPO_S3_SECRET_KEY": s3_server.secret_key,
        "HPO_S3_BUCKET": s3_bucket,
    }
    await cluster.start(trainers=2)
    config = StudyConfig(dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=2, seed=3)
    study_id = await cluster.submit("dist", config)
    try:
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=120)
    finally:
        await cluster.stop(tmp_path / "logs")

    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials + completed.data.pruned_trials == 6
    assert {e.data.trainer_id for e in cluster.seen if isinstance(e, TrialStarted)} == {"trainer-1", "trainer-2"}
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "dist")
    report = next(e for e in cluster.seen if isinstance(e, ReportReady))
    bundle = s3_server.client().stat_object(s3_bucket, report.data.bundle_key)
    assert bundle.size == (tmp_path / "results" / "dist.zip").stat().st_size  # the bundle went to S3


async def test_a_trainer_killed_mid_trial_has_its_trial_finished_by_another(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="4")
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=4, max_epochs=4, parallelism=2, seed=5, pruner="none"
    )
    study_id = await cluster.submit("killed", config)

    def epoch_on_trainer_1() -> bool:
        return any(isinstance(e, TrialEpochCompleted) and e.data.trainer_id == "trainer-1" for e in cluster.seen)

    try:
        await cluster.wait_for(epoch_on_trainer_1, timeout=60)
        victim = processes.by_name("trainer-1")
        victim.kill()  # SIGKILL in the middle of a trial: no goodbye, its message is unacked
        victim.wait(timeout=10)
        interrupted = next(
            e.trial_id for e in cluster.seen if isinstance(e, TrialEpochCompleted) and e.data.trainer_id == "trainer-1"
        )
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=150)
    finally:
        processes.forget("trainer-1")
        await cluster.stop(tmp_path / "logs")

    finished_by = [
        e.data.trainer_id for e in cluster.seen if isinstance(e, TrialCompleted) and e.trial_id == interrupted
    ]
    retried = [e for e in cluster.seen if isinstance(e, TrialRequested) and e.data.retry_of == interrupted]
    assert finished_by == ["trainer-2"] or retried, "the interrupted trial was neither redelivered nor retried"
    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials == 4
    _assert_finished(postgres_url, study_id, 4, tmp_path / "results", "killed")


async def test_a_broker_restart_mid_study_loses_no_epoch(cluster: Cluster, postgres_url: str, tmp_path: Path) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="3")
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=4, max_epochs=3, parallelism=2, seed=9, pruner="none"
    )
    study_id = await cluster.submit("restart", config)
    try:
        await cluster.wait_for(lambda: any(isinstance(e, TrialEpochCompleted) for e in cluster.seen), timeout=60)
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
        await asyncio.sleep(2)
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=60)
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=180)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=60)
        await cluster.stop(tmp_path / "logs")

    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials == 4
    epochs_trained = sum(e.data.metrics.epochs_trained for e in cluster.seen if isinstance(e, TrialCompleted))
    epochs_recorded = {(e.trial_id, e.data.telemetry.epoch) for e in cluster.seen if isinstance(e, TrialEpochCompleted)}
    assert len(epochs_recorded) == epochs_trained == 12
    import sqlalchemy as sa

    from services.runtime.db.schema import epochs

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(epochs)).scalar_one()
    engine.dispose()
    assert stored == epochs_trained  # the reporter's read model holds every epoch trained
    _assert_finished(postgres_url, study_id, 4, tmp_path / "results", "restart")


async def test_a_scheduler_killed_mid_study_resumes_it_from_storage(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="2")
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=2, seed=4, pruner="none"
    )
    study_id = await cluster.submit("resumed", config)

    def trials_completed() -> int:
        return sum(isinstance(e, TrialCompleted) for e in cluster.seen)

    try:
        await cluster.wait_for(lambda: trials_completed() >= 2, timeout=60)
        scheduler = processes.by_name("scheduler")
        scheduler.kill()  # SIGKILL: its in-memory state is gone
        scheduler.wait(timeout=10)
        processes.forget("scheduler")
        port = free_port()
        processes.start("scheduler", "scheduler", port)
        await cluster.wait_for(lambda: is_ready(port), timeout=60)
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=150)
    finally:
        await cluster.stop(tmp_path / "logs")

    ended = [e for e in cluster.seen if isinstance(e, StudyCompleted) and e.study_id == study_id]
    assert len(ended) == 1 and ended[0].data.state == "completed"
    assert ended[0].data.completed_trials == 6
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "resumed")


def _restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


async def test_a_postgres_restart_mid_study_needs_no_operator(
    cluster: Cluster, postgres_url: str, tmp_path: Path
) -> None:
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("restarting Postgres needs a Debian cluster (pg_ctlcluster) on this machine")
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="2")
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=2, seed=6, pruner="none"
    )
    study_id = await cluster.submit("pg-restart", config)
    try:
        await cluster.wait_for(lambda: any(isinstance(e, TrialCompleted) for e in cluster.seen), timeout=60)
        await asyncio.to_thread(_restart_postgres)
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=180)
    finally:
        await cluster.stop(tmp_path / "logs")

    ended = next(e for e in cluster.seen if isinstance(e, StudyCompleted) and e.study_id == study_id)
    assert ended.data.completed_trials == 6
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "pg-restart")


def _layout(study_dir: Path) -> set[str]:
    """Every file of a results folder, relative to it (trial numbers included: same study, same trials)."""
    return {path.relative_to(study_dir).as_posix() for path in study_dir.rglob("*") if path.is_file()}


@pytest.mark.slow
async def test_a_keras_study_on_mnist_across_three_trainers_writes_the_embedded_layout(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    options = {
        "dataset": "mnist", "data_dir": str(SHARED_DATASETS), "mode": "health", "trials": "3", "max_epochs": "2",
        "max_samples": "600", "pruner": "none", "seed": "5",
    }  # fmt: skip
    processes.env["HPO_TRAINER_MODE"] = "keras"
    await cluster.start(trainers=3)
    study_id = await cluster.submit("mnist3", StudyConfig.model_validate({**options, "parallelism": 3}))
    try:
        await cluster.wait_for(lambda: cluster.reported(study_id), timeout=420)
    finally:
        await cluster.stop(tmp_path / "logs")
    _assert_finished(postgres_url, study_id, 3, tmp_path / "results", "mnist3")
    assert len({e.data.trainer_id for e in cluster.seen if isinstance(e, TrialStarted)}) >= 2

    embedded_root = tmp_path / "embedded"
    code = await asyncio.to_thread(
        main, ["optimize", *(f"{key}={value}" for key, value in options.items()), f"output_dir={embedded_root}"]
    )
    assert code == EXIT_OK
    (embedded_dir,) = [p for p in embedded_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    distributed = _layout(tmp_path / "results" / "mnist3")
    assert distributed == _layout(embedded_dir)
    assert {"report.md", "report.html", "best_model.keras", "trials.csv", "best_params.yaml"} <= distributed
