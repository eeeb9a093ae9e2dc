"""Pipeline overhead benchmark: the distributed pipeline (every service its own process on RabbitMQ and
Postgres) with synthetic trainers, whose trials take a fixed time and run no TensorFlow.

(a) ``overhead_pct``: 8 trainers, 200 trials of 0.5 s, TPE (the default sampler), simple mode:
    ``wall time from study.created to study.completed / (200 x 0.5 s / 8) - 1``. Ray Tune publishes
    14% on its 1-second-trial benchmark; the goal here is under 3%.
(b) ``throughput_ratio``: trials/s through the pipeline with instant trials (0 s), divided by plain
    Optuna ask/tell trials/s on the same Postgres server with the same sampler, measured in the same run.
(c) ``orchestration_cpu_ms_per_trial``: during (a), the CPU time spent by everything that is not training
    (the scheduler, health, reporter and API processes, RabbitMQ and Postgres), read from /proc before
    and after and divided by the finished trials, with the split per process. Unlike wall time on two
    shared cores, it predicts what orchestration costs at 1,000 trainers.

Needs RabbitMQ (``--amqp-url``) and Postgres (``--postgres-admin-url``, a database per phase is created
and dropped). Ends with ``overhead_pct=`` and ``throughput_ratio=`` lines::

    .venv/bin/python benchmarks/pipeline_overhead.py [--trials 200] [--trainers 8] [--trial-seconds 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import optuna
import sqlalchemy as sa

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import Event, StudyCompleted, StudyCreated, StudyCreatedData
from contracts.study import StudyConfig
from services.runtime.bus.amqp import AmqpBus, dead_letter_queue
from services.runtime.db.engine import create_engine_for
from services.runtime.db.repository import MAX_PAGE_SIZE, ReadModelRepository

REPO = Path(__file__).resolve().parent.parent
QUEUES = ("scheduler", "health", "reporter", "trainer.work", "bench")


@dataclass(frozen=True)
class TrialSpan:
    """One trial as the read model recorded it (the times are those of its trial.started and trial.completed)."""

    trainer_id: str
    started: datetime
    finished: datetime


@dataclass(frozen=True)
class Breakdown:
    """Where the wall time beyond the trials themselves went, from the events' timestamps."""

    first_start_seconds: float  # study.created -> first trial.started
    idle_between_trials_seconds: float  # per trainer, trial.completed -> its next trial.started, summed
    trial_seconds_mean: float  # trial.started -> trial.completed
    tail_seconds: float  # last trial.completed -> study.completed

    @staticmethod
    def of(created: StudyCreated, spans: list[TrialSpan], completed: StudyCompleted) -> Breakdown:
        by_trainer: dict[str, list[TrialSpan]] = {}
        for span in sorted(spans, key=lambda s: s.started):
            by_trainer.setdefault(span.trainer_id, []).append(span)
        idle = sum(
            (after.started - before.finished).total_seconds()
            for timeline in by_trainer.values()
            for before, after in itertools.pairwise(timeline)
        )
        durations = [(span.finished - span.started).total_seconds() for span in spans]
        return Breakdown(
            first_start_seconds=(min(s.started for s in spans) - created.time).total_seconds(),
            idle_between_trials_seconds=idle,
            trial_seconds_mean=sum(durations) / max(len(durations), 1),
            tail_seconds=(completed.time - max(s.finished for s in spans)).total_seconds(),
        )

    def describe(self) -> str:
        return (
            f"first trial started after {self.first_start_seconds * 1000:.0f} ms; trainers idle between trials"
            f" {self.idle_between_trials_seconds:.2f} s in all; a trial takes {self.trial_seconds_mean * 1000:.1f} ms"
            f" from started to completed; study.completed {self.tail_seconds * 1000:.0f} ms after the last trial"
        )


class Pipeline:
    """Scheduler, health, reporter and N synthetic trainers as processes, on their own exchange and database."""

    def __init__(self, amqp_url: str, database_url: str, scratch: Path, trainers: int, trial_seconds: float) -> None:
        word = uuid.uuid4().hex[:8]
        self.exchange, self.prefix = f"bench.{word}", f"bench-{word}."
        self.amqp_url = amqp_url
        self.env = {
            **os.environ,
            "HPO_AMQP_URL": amqp_url,
            "HPO_EXCHANGE": self.exchange,
            "HPO_QUEUE_PREFIX": self.prefix,
            "HPO_HTTP_HOST": "127.0.0.1",
            "HPO_ARTIFACTS_DIR": str(scratch / "artifacts"),
            "HPO_SCHEDULER_OPTUNA_STORAGE": database_url,
            "HPO_DATABASE_URL": database_url,
            "HPO_DEVELOPMENT": "true",  # the local RabbitMQ's guest user
            "HPO_REPORTER_RESULTS_ROOT": str(scratch / "results"),
            "HPO_REPORTER_PLOT_WORKERS": "1",
            "HPO_TRAINER_MODE": "synthetic",
            "HPO_TRAINER_SYNTHETIC_SECONDS": str(trial_seconds),
        }
        self.trainers = trainers
        self.scratch = scratch
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        self.pids: dict[str, int] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.env["HPO_API_TOKEN"] = "bench-" + uuid.uuid4().hex

    def start(self) -> None:
        hpo = [sys.executable, "-m", "services.cli.main"]
        url = self.env["HPO_DATABASE_URL"]
        subprocess.run([*hpo, "db", "upgrade", "--database-url", url], env=self.env, check=True, capture_output=True)
        names = ORCHESTRATION + [f"trainer-{i}" for i in range(1, self.trainers + 1)]
        for name in names:
            port = _free_port()
            env = {**self.env, "HPO_HTTP_PORT": str(port), "HPO_TRAINER_TRAINER_ID": name, "HPO_API_PORT": "0"}
            log = (self.scratch / f"{name}.log").open("wb")
            service = name.split("-")[0]
            process = subprocess.Popen([*hpo, "serve", service], cwd=REPO, env=env, stdout=log, stderr=log)
            self.processes.append(process)
            self.ports.append(port)
            if name in ORCHESTRATION:
                self.pids[name] = process.pid
        deadline = time.monotonic() + 120
        while not all(_ready(port) for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"services not ready after 120 s; logs in {self.scratch}")
            time.sleep(0.2)

    async def run_study(self, config: StudyConfig) -> tuple[float, Breakdown]:
        """Seconds from study.created to study.completed, by the events' own timestamps, and where they went.

        Only ``study.completed`` is observed on the bus (observing every trial's events would add the
        benchmark's own deliveries to RabbitMQ's CPU); the trials' times are read from the read model after."""
        bus = AmqpBus(self.amqp_url, exchange=self.exchange, queue_prefix=self.prefix)
        await bus.start()
        finished: asyncio.Future[StudyCompleted] = asyncio.get_running_loop().create_future()

        async def observe(event: Event) -> None:
            if isinstance(event, StudyCompleted) and not finished.done():
                finished.set_result(event)

        await bus.subscribe("bench", ["study.completed"], observe, prefetch=1)
        created = StudyCreated(
            source="bench", study_id=uuid.uuid4().hex, data=StudyCreatedData(study_name="bench", config=config)
        )
        cpu_before = orchestration_cpu(self.pids)
        await bus.publish(created)
        completed = await asyncio.wait_for(finished, timeout=1800)
        self.cpu_seconds = {name: orchestration_cpu(self.pids)[name] - cpu_before.get(name, 0.0) for name in cpu_before}
        await bus.close()
        if completed.data.completed_trials != config.trials:
            raise RuntimeError(f"study ended with {completed.data.completed_trials} of {config.trials} trials")
        spans = self.trial_spans(created.study_id, config.trials)
        return (completed.time - created.time).total_seconds(), Breakdown.of(created, spans, completed)

    def trial_spans(self, study_id: str, trials: int, timeout: float = 60.0) -> list[TrialSpan]:
        """Every finished trial's trainer and times, once the reporter has recorded them all."""
        repository = ReadModelRepository(create_engine_for(self.env["HPO_DATABASE_URL"]))
        deadline = time.monotonic() + timeout
        try:
            while True:
                spans = [
                    TrialSpan(str(t.trainer_id), t.started_at, t.finished_at)
                    for t in repository.list_trials(study_id, limit=MAX_PAGE_SIZE)
                    if t.started_at is not None and t.finished_at is not None
                ]
                if len(spans) >= trials or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            repository.engine.dispose()
        if len(spans) < trials:
            raise RuntimeError(f"the read model holds {len(spans)} of {trials} finished trials after {timeout:.0f} s")
        return spans

    async def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        import aio_pika

        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in QUEUES:
                for name in (self.prefix + queue, dead_letter_queue(self.prefix + queue)):
                    with suppress(Exception):
                        await channel.queue_delete(name)
            await channel.exchange_delete(self.exchange)


ORCHESTRATION = ["scheduler", "health", "reporter", "api"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (from /proc/<pid>/stat); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids_named(*names: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                found.append(int(entry.name))
    return found


def orchestration_cpu(service_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of every process that is not a trainer: our services, RabbitMQ, Postgres."""
    seconds = {name: _cpu_seconds(pid) for name, pid in service_pids.items()}
    seconds["rabbitmq"] = sum(_cpu_seconds(pid) for pid in _pids_named("beam.smp"))
    seconds["postgres"] = sum(_cpu_seconds(pid) for pid in _pids_named("postgres"))
    return seconds


def plain_optuna_trials_per_second(database_url: str, trials: int, seed: int) -> float:
    """Ask/tell with TPE on the same Postgres server: the floor the pipeline is compared to."""
    config = StudyConfig(dataset=DatasetName.DIGITS, trials=trials, seed=seed)
    from services.scheduler.samplers import build_sampler
    from services.scheduler.search_space import to_distributions

    space = config.effective_search_space()
    storage = optuna.storages.RDBStorage(database_url, engine_kwargs={"pool_pre_ping": True})
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=build_sampler(config.sampler, space, seed=seed, parallel=True)
    )
    distributions = to_distributions(space)
    started = time.perf_counter()
    for index in range(trials):
        trial = study.ask(distributions)
        study.tell(trial, float(index % 7) / 7)
    return trials / (time.perf_counter() - started)


class Databases:
    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        self.names: list[str] = []

    def create(self) -> str:
        name = f"hpo_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def _study(trials: int, trainers: int, seed: int) -> StudyConfig:
    return StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=trials, max_epochs=1, parallelism=trainers,
        pruner=PrunerName.NONE, seed=seed,
    )  # fmt: skip


async def phase(
    args: argparse.Namespace, databases: Databases, trial_seconds: float
) -> tuple[float, Breakdown, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="hpo-pipeline-") as scratch:
        pipeline = Pipeline(args.amqp_url, databases.create(), Path(scratch), args.trainers, trial_seconds)
        try:
            pipeline.start()
            print(f"[pipeline] {args.trainers} trainers ready; {args.trials} trials of {trial_seconds}s", flush=True)
            wall, breakdown = await pipeline.run_study(_study(args.trials, args.trainers, args.seed))
            return wall, breakdown, pipeline.cpu_seconds
        finally:
            await pipeline.stop()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--trainers", type=int, default=8)
    parser.add_argument("--trial-seconds", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    databases = Databases(args.postgres_admin_url)
    try:
        wall, breakdown, cpu = await phase(args, databases, args.trial_seconds)
        ideal = args.trials * args.trial_seconds / args.trainers
        overhead = (wall / ideal - 1) * 100
        print(f"[overhead] wall {wall:.2f}s vs ideal {ideal:.2f}s: {breakdown.describe()}", flush=True)
        split = ", ".join(f"{name} {seconds * 1000 / args.trials:.1f}" for name, seconds in sorted(cpu.items()))
        print(f"[cpu] orchestration ms per trial: {split}", flush=True)
        instant_wall, _, _ = await phase(args, databases, 0.0)
        pipeline_rate = args.trials / instant_wall
        plain_rate = plain_optuna_trials_per_second(databases.create(), args.trials, args.seed)
        print(f"[throughput] pipeline {pipeline_rate:.1f} trials/s, plain Optuna {plain_rate:.1f} trials/s", flush=True)
    finally:
        databases.drop_all()
    print(f"study_wall_seconds={wall:.2f}")
    print(f"ideal_seconds={ideal:.2f}")
    print(f"pipeline_trials_per_second={pipeline_rate:.2f}")
    print(f"plain_optuna_trials_per_second={plain_rate:.2f}")
    for name, seconds in sorted(cpu.items()):
        print(f"orchestration_cpu_ms_per_trial_{name}={seconds * 1000 / args.trials:.2f}")
    print(f"orchestration_cpu_ms_per_trial={sum(cpu.values()) * 1000 / args.trials:.2f}")
    print(f"overhead_pct={overhead:.2f}")
    print(f"throughput_ratio={pipeline_rate / plain_rate:.3f}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    asyncio.run(main())
