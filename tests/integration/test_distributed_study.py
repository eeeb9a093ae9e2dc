"""A whole study with every service as its own process on RabbitMQ and Postgres: two synthetic
trainers compete for trials, and the results folder has the embedded layout."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import optuna
import pytest

from contracts.enums import DatasetName, Mode
from contracts.events import Event, ReportReady, StudyCompleted, StudyCreated, StudyCreatedData, TrialStarted
from contracts.study import StudyConfig
from services.runtime.bus.amqp import AmqpBus, dead_letter_queue

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
QUEUES = ("scheduler", "health", "reporter", "trainer.work", "observer")


@pytest.fixture
async def sandbox(amqp_url: str) -> AsyncIterator[dict[str, str]]:
    word = uuid.uuid4().hex[:8]
    names = {"exchange": f"test.dist.{word}", "prefix": f"test-dist-{word}."}
    yield names
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in QUEUES:
            for name in (names["prefix"] + queue, dead_letter_queue(names["prefix"] + queue)):
                await channel.queue_delete(name)
        await channel.exchange_delete(names["exchange"])


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, service: str, name: str, port: int, **extra: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        env = {**self.env, "HPO_HTTP_PORT": str(port), **extra}
        command = [sys.executable, "-m", "services.cli.main", "serve", service]
        self.running.append((name, subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)))

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


async def test_a_study_runs_across_separate_service_processes(
    processes: Processes, amqp_url: str, postgres_url: str, sandbox: dict[str, str], tmp_path: Path
) -> None:
    ports = [_free_port() for _ in range(5)]
    processes.start("scheduler", "scheduler", ports[0])
    processes.start("health", "health", ports[1])
    processes.start("reporter", "reporter", ports[2])
    processes.start("trainer", "trainer-1", ports[3], HPO_TRAINER_TRAINER_ID="trainer-1")
    processes.start("trainer", "trainer-2", ports[4], HPO_TRAINER_TRAINER_ID="trainer-2")
    async with asyncio.timeout(60):  # every service has declared its queue once it is ready
        while not all(_ready(port) for port in ports):
            await asyncio.sleep(0.2)

    bus = AmqpBus(amqp_url, exchange=sandbox["exchange"], queue_prefix=sandbox["prefix"])
    await bus.start()
    seen: list[Event] = []

    async def observe(event: Event) -> None:
        seen.append(event)

    await bus.subscribe("observer", ["#"], observe, prefetch=100)
    config = StudyConfig(dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=2, seed=3)
    study_id = uuid.uuid4().hex
    created = StudyCreated(source="test", study_id=study_id, data=StudyCreatedData(study_name="dist", config=config))
    await bus.publish(created)
    try:
        async with asyncio.timeout(120):
            while not any(isinstance(e, ReportReady) and e.study_id == study_id for e in seen):
                await asyncio.sleep(0.2)
    finally:
        await bus.close()
        codes = processes.stop_all()
    logs = {p.name: p.read_text()[-1500:] for p in (tmp_path / "logs").iterdir()}
    assert all(code == 0 for code in codes.values()), (codes, logs)

    completed = next(e for e in seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials + completed.data.pruned_trials == 6
    trainers = {e.data.trainer_id for e in seen if isinstance(e, TrialStarted)}
    assert trainers == {"trainer-1", "trainer-2"}

    study_dir = tmp_path / "results" / "dist"
    for name in ("report.md", "report.html", "best_params.yaml", "trials.csv"):
        assert (study_dir / name).is_file(), name
    assert (tmp_path / "results" / "dist.zip").is_file()
    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    assert len([r for r in rows if r["state"] in ("completed", "pruned")]) == 6

    storage = optuna.storages.RDBStorage(postgres_url)
    study = optuna.load_study(study_name=study_id, storage=storage)
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert len([t for t in study.trials if t.state.is_finished()]) >= 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False
