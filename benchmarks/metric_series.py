"""Metric series per service over many studies: label cardinality must stay bounded.

The scheduler (Optuna storage in a SQLite file), the health service and one synthetic trainer run as
their own ``hpo serve`` processes on the local RabbitMQ (an exchange and queue prefix of their own). 50
studies of 3 trials run one after the other; each service's ``/metrics`` is read while the first study
runs, after it, and after the 50th. Ends with ``name=value`` lines::

    .venv/bin/python benchmarks/metric_series.py [--studies 50] [--amqp-url amqp://guest:guest@127.0.0.1:5672/]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import Event, StudyCompleted, TrialEpochCompleted
from contracts.study import StudyConfig
from contracts.topology import DURABLE_QUEUES
from services.runtime.bus.amqp import AmqpBus, dead_letter_queue
from tests.support.events import study_created
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("scheduler", "health", "trainer")


def series(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"a service on port {port} was not ready after {timeout}s")


async def run(studies: int, amqp_url: str, folder: Path) -> dict[str, int]:
    word = uuid.uuid4().hex[:8]
    exchange, prefix = f"bench.series.{word}", f"bench-series-{word}."
    env = {
        **os.environ,
        "HPO_AMQP_URL": amqp_url,
        "HPO_EXCHANGE": exchange,
        "HPO_QUEUE_PREFIX": prefix,
        "HPO_DEVELOPMENT": "true",
        "HPO_SCHEDULER_OPTUNA_STORAGE": f"sqlite:///{folder / 'optuna.sqlite'}",
        "HPO_TRAINER_MODE": "synthetic",
        "HPO_TRAINER_SYNTHETIC_SECONDS": "0.3",
        "HPO_TRAINER_TRAINER_ID": "bench-trainer",
    }
    ports = {name: free_port() for name in SERVICES}
    processes = []
    for name in SERVICES:
        log = (folder / f"{name}.log").open("wb")
        command = [sys.executable, "-m", "services.cli.main", "serve", name]
        environment = {**env, "HPO_HTTP_PORT": str(ports[name])}
        processes.append(subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=log))
    bus = AmqpBus(amqp_url, exchange=exchange, queue_prefix=prefix)
    figures: dict[str, int] = {}
    try:
        for name in SERVICES:
            wait_ready(ports[name])
        await bus.start()
        seen: list[Event] = []

        async def record(event: Event) -> None:
            seen.append(event)

        await bus.subscribe("observer", ["study.completed", "trial.epoch_completed"], record, prefetch=50)
        config = StudyConfig(dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=3, max_epochs=3,
                             pruner=PrunerName.NONE, seed=1)  # fmt: skip
        for number in range(studies):
            study_id = uuid.uuid4().hex
            await bus.publish(study_created(study_id, config, name=f"series-{number}"))
            if number == 0:
                while not any(isinstance(e, TrialEpochCompleted) and e.study_id == study_id for e in seen):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                for name in SERVICES:
                    figures[f"{name}_series_during_first_study"] = series(ports[name])
            while not any(isinstance(e, StudyCompleted) and e.study_id == study_id for e in seen):
                await asyncio.sleep(0.05)
            if number == 0:
                for name in SERVICES:
                    figures[f"{name}_series_after_1_study"] = series(ports[name])
            print(f"study {number + 1}/{studies} completed", flush=True)
        await asyncio.sleep(0.5)
        for name in SERVICES:
            figures[f"{name}_series_after_{studies}_studies"] = series(ports[name])
    finally:
        await bus.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        await _delete_queues(amqp_url, exchange, prefix)
    return figures


async def _delete_queues(amqp_url: str, exchange: str, prefix: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in (*DURABLE_QUEUES, "observer"):
            for name in (prefix + queue, dead_letter_queue(prefix + queue)):
                await channel.queue_delete(name)
        await channel.exchange_delete(exchange)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=50)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpo-series-") as folder:
        figures = asyncio.run(run(args.studies, args.amqp_url, Path(folder)))
    for name, value in figures.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
