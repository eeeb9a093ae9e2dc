"""Every service as its own ``hpo serve`` process on this test's exchange, queue prefix and database,
plus an observer on the bus (the ``processes`` and ``cluster`` fixtures live in conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from contracts.events import Event, ReportReady
from contracts.study import StudyConfig
from services.runtime.bus.amqp import AmqpBus
from tests.support.bus import collect_events
from tests.support.events import study_created
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ports: dict[str, int] = {}
        """Each process's probe port (/healthz, /readyz, /metrics), by name."""

    def start(self, service: str, name: str, port: int, **extra: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        env = {**self.env, "HPO_HTTP_PORT": str(port), **extra}
        self.ports[name] = port
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


def processes_for(amqp_url: str, postgres_url: str, sandbox: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    env = {
        **os.environ,
        "HPO_AMQP_URL": amqp_url,
        "HPO_EXCHANGE": sandbox["exchange"],
        "HPO_QUEUE_PREFIX": sandbox["prefix"],
        "HPO_HTTP_HOST": "127.0.0.1",
        "HPO_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "HPO_SCHEDULER_OPTUNA_STORAGE": postgres_url,
        "HPO_SCHEDULER_LEASE_SECONDS": "20",
        "HPO_DATABASE_URL": postgres_url,
        "HPO_DEVELOPMENT": "true",  # the local RabbitMQ's guest user
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
        # every service has declared its queue once it is ready
        await eventually(
            lambda: all(is_ready(port) for port in ports), "every service to be ready", timeout=60, interval=0.2
        )
        await self.bus.start()
        self.seen = await collect_events(self.bus, "observer", ["#"], prefetch=100)

    async def submit(self, name: str, config: StudyConfig) -> str:
        study_id = uuid.uuid4().hex
        await self.bus.publish(study_created(study_id, config, name=name))
        return study_id

    def reported(self, study_id: str) -> bool:
        return any(isinstance(e, ReportReady) and e.study_id == study_id for e in self.seen)

    async def stop(self, logs: Path) -> None:
        await self.bus.close()
        codes = self.processes.stop_all()
        tails = {p.name: p.read_text()[-1500:] for p in logs.iterdir()}
        assert all(code == 0 for code in codes.values()), (codes, tails)


def results_layout(study_dir: Path) -> set[str]:
    """Every file of a results folder, relative to it (trial numbers included: same study, same trials)."""
    return {path.relative_to(study_dir).as_posix() for path in study_dir.rglob("*") if path.is_file()}
