"""API latency benchmark: every paged endpoint and ``/trends`` on a study of 100,000 recorded trials in
Postgres, over real HTTP, and the live stream's latency with 20 clients connected.

A database is created on the Postgres server (``--admin-url``), migrated like ``hpo db upgrade`` and
filled with one running study of ``--trials`` trials and their epochs (``benchmarks/read_model_seed.py``:
params, health, metrics and telemetry JSON as the reporter writes them, the per-layer statistics left out
of the telemetry, which no endpoint here reads), and dropped at the end. The API
runs with uvicorn in a child process (``bootstrap.start``, as ``hpo serve api`` runs it) on a free port,
on RabbitMQ (``--amqp-url``) so that the live stream is the real one; the client sends sequential
keep-alive requests and reports percentiles.

The stream phase connects ``--stream-clients`` SSE clients to ``/jobs/{id}/events``, publishes
``--stream-events`` events of the study on RabbitMQ (20 a second) and measures, for every event and
client, the time from the event's creation (its ``time``) to the client receiving it.

Ends with ``trials_page_p95_ms=``, ``trends_p95_ms=`` (goal: under 50 at 100,000 trials) and
``stream_latency_p95_ms=`` (goal: under 100 with 20 clients)::

    .venv/bin/python benchmarks/api_latency.py [--trials 100000] [--requests 200] [--stream-clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for ``benchmarks.*``

from benchmarks.read_model_seed import ADMIN_URL, seed_study, seeded_database
from contracts.events import TrialEpochCompleted, TrialEpochCompletedData
from contracts.telemetry import EpochTelemetry
from services.runtime.db.engine import create_engine_for
from services.runtime.db.repository import ReadModelRepository

REPO = Path(__file__).resolve().parent.parent
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TOKEN_ENV = "HPO_BENCH_API_TOKEN"
TOKEN = os.environ.setdefault(TOKEN_ENV, "benchmark-token-" + uuid.uuid4().hex)  # the API child inherits it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("HPO_BENCH_POSTGRES_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--amqp-url", default=os.environ.get("HPO_BENCH_AMQP_URL", AMQP_URL))
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--epochs-per-trial", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--stream-clients", type=int, default=20)
    parser.add_argument("--stream-events", type=int, default=200)
    parser.add_argument(
        "--serve", nargs=4, metavar=("DATABASE_URL", "PORT", "AMQP_URL", "EXCHANGE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        return asyncio.run(_serve(args.serve[0], int(args.serve[1]), args.serve[2], args.serve[3]))

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    study_id = "bench-" + uuid.uuid4().hex[:8]
    with seeded_database(args.admin_url, "api") as url:
        seconds = seed_study(url, study_id, args.trials, epochs_per_trial=args.epochs_per_trial, layers=False)
        print(f"seeded study {study_id} with {args.trials} trials x {args.epochs_per_trial} epochs in {seconds:.1f} s")
        deep = max(args.trials // 2, 0)
        endpoints = {
            "trials_page": f"/jobs/{study_id}/trials",
            "trials_page_by_score_desc": f"/jobs/{study_id}/trials?sort=score&order=desc",
            "trials_page_deep": f"/jobs/{study_id}/trials?offset={deep}",
            "trials_page_completed": f"/jobs/{study_id}/trials?state=completed&sort=val_accuracy&order=desc",
            "best_trial": f"/jobs/{study_id}/best-trial",
            "trends": f"/jobs/{study_id}/trends",
            "trends_no_epochs": f"/jobs/{study_id}/trends?epochs=false",
            "jobs_page": "/jobs",
            "job": f"/jobs/{study_id}",
        }
        with api_server(url, args.amqp_url) as server:
            results = measure_on(server.base, endpoints, args.requests, args.warmup)
            latencies = asyncio.run(stream_latency(server, study_id, args.stream_clients, args.stream_events))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for label, timings in results.items():
        print(f"{label}_p95_ms={_p95(timings):.1f}")
    print(f"stream_clients={args.stream_clients}")
    print(f"stream_latency_p50_ms={statistics.median(latencies):.1f}")
    print(f"stream_latency_p95_ms={_p95(latencies):.1f}")
    return 0


@dataclass(frozen=True)
class ApiServer:
    base: str
    amqp_url: str
    exchange: str


@contextmanager
def api_server(database_url: str, amqp_url: str = "") -> Iterator[ApiServer]:
    """The API in a child process on ``database_url`` (and RabbitMQ, on an exchange of its own)."""
    port, exchange = _free_port(), f"bench.api.{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HPO_DEVELOPMENT": "true"}
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", database_url, str(port)]
    process = subprocess.Popen([*command, amqp_url or "-", exchange], cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        print(f"API serving on {base} (pid {process.pid})", flush=True)
        yield ApiServer(base, amqp_url, exchange)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if amqp_url:
            asyncio.run(_delete_exchange(amqp_url, exchange))


async def _delete_exchange(amqp_url: str, exchange: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        with suppress(Exception):
            await channel.exchange_delete(exchange)


def measure(database_url: str, endpoints: dict[str, str], requests: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of ``requests`` sequential GETs per endpoint, on an API over ``database_url``."""
    with api_server(database_url) as server:
        return measure_on(server.base, endpoints, requests, warmup)


def measure_on(base: str, endpoints: dict[str, str], requests: int, warmup: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for label, path in endpoints.items():
            for _ in range(warmup):
                client.get(path).raise_for_status()
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            results[label] = timings
            print(
                f"  {label}: p50 {statistics.median(timings):.1f} ms, p95 {_p95(timings):.1f} ms,"
                f" max {max(timings):.1f} ms over {len(timings)} requests ({len(response.content) / 1000:.0f} kB)",
                flush=True,
            )
    return results


async def stream_latency(server: ApiServer, study_id: str, clients: int, events: int) -> list[float]:
    """Milliseconds from each event's creation to each SSE client receiving it."""
    from services.runtime.bus.amqp import AmqpBus

    latencies: list[float] = []
    ready = asyncio.Semaphore(0)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}

    async def client(http: httpx.AsyncClient) -> None:
        async with http.stream("GET", f"/jobs/{study_id}/events", headers=headers) as response:
            response.raise_for_status()
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("event: snapshot"):
                    ready.release()
                elif line.startswith("data: ") and '"trial.epoch_completed"' in line:
                    sent = datetime.fromisoformat(json.loads(line[6:])["time"])
                    latencies.append((datetime.now(UTC) - sent).total_seconds() * 1000)
                    seen += 1
                    if seen == events:
                        return

    bus = AmqpBus(server.amqp_url, exchange=server.exchange, queue_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    await bus.start()
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=server.base, timeout=120, limits=limits) as http:
        tasks = [asyncio.create_task(client(http)) for _ in range(clients)]
        for _ in range(clients):
            await asyncio.wait_for(ready.acquire(), timeout=60)
        print(f"  {clients} stream clients connected; publishing {events} events", flush=True)
        telemetry = EpochTelemetry(epoch=1, loss=0.5, accuracy=0.8, val_loss=0.6, val_accuracy=0.78)
        for index in range(events):
            data = TrialEpochCompletedData(trainer_id="bench", trial_number=index, max_epochs=3, telemetry=telemetry)
            trial_id = f"{study_id}-live-{index}"
            await bus.publish(TrialEpochCompleted(source="bench", study_id=study_id, trial_id=trial_id, data=data))
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    await bus.close()
    print(
        f"  stream: p50 {statistics.median(latencies):.1f} ms, p95 {_p95(latencies):.1f} ms over"
        f" {len(latencies)} deliveries",
        flush=True,
    )
    return latencies


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API process exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not become ready within 60 s")


async def _serve(database_url: str, port: int, amqp_url: str, exchange: str) -> int:
    """The child process: the API as ``hpo serve api`` runs it, on RabbitMQ (``-``: the in-process bus)."""
    from services.api import bootstrap
    from services.api.settings import ApiSettings
    from services.runtime.artifacts.local import LocalArtifactStore
    from services.runtime.bus.amqp import AmqpBus
    from services.runtime.bus.memory import InMemoryBus
    from services.runtime.bus.port import Bus

    settings = ApiSettings(token=SecretStr(os.environ[TOKEN_ENV]), port=port)
    repository = ReadModelRepository(create_engine_for(database_url))
    bus: Bus = InMemoryBus() if amqp_url == "-" else AmqpBus(amqp_url, exchange=exchange, queue_prefix="bench-api.")
    if isinstance(bus, AmqpBus):
        await bus.start()
    with tempfile.TemporaryDirectory(prefix="hpo-bench-api-") as artifacts_dir:
        running = await bootstrap.start(bus, repository, LocalArtifactStore(Path(artifacts_dir)), settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await running.stop()
        await bus.close()
    repository.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
