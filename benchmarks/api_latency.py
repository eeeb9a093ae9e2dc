"""API latency benchmark: ``GET /jobs/{id}/trials`` (first page) and ``GET /jobs/{id}/best-trial`` on a
study of 10,000 recorded trials in Postgres, over real HTTP.

A database is created on the Postgres server (``--admin-url``), migrated like ``hpo db upgrade``
(``services.runtime.db.migrate.upgrade``), filled with one running study and its trials (params,
health and metrics JSON as the reporter writes them), and dropped at the end. The API runs with
uvicorn in a child process (``bootstrap.start``, as ``hpo serve api`` runs it) on a free port; the
client sends sequential keep-alive requests and reports percentiles. Ends with the headline lines
``trials_page_p95_ms=`` and ``best_trial_p95_ms=`` (goal: under 100)::

    .venv/bin/python benchmarks/api_latency.py [--trials 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from services.runtime.db.engine import create_engine_for
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.schema import trials as trials_table

REPO = Path(__file__).resolve().parent.parent

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TOKEN = "benchmark-token-" + uuid.uuid4().hex
STUDY_ID = "bench-" + uuid.uuid4().hex[:8]
BATCH = 2_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("HPO_BENCH_POSTGRES_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--serve", nargs=2, metavar=("DATABASE_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return asyncio.run(_serve(args.serve[0], int(args.serve[1])))

    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    name = f"hpo_bench_api_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    print(f"database {name} created", flush=True)
    try:
        upgrade(url)
        seconds = _seed(url, args.trials)
        print(f"seeded study {STUDY_ID} with {args.trials} trials in {seconds:.1f} s", flush=True)
        figures = _measure(url, args.requests, args.warmup)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"database {name} dropped", flush=True)
    for line in figures:
        print(line)
    return 0


def _seed(url: str, count: int) -> float:
    started = time.perf_counter()
    engine = create_engine_for(url)
    repo = ReadModelRepository(engine)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    config = {"dataset": "digits", "mode": "health", "optimize_for": "val_accuracy", "trials": count}
    repo.upsert_study(
        STUDY_ID,
        name="bench",
        state="running",
        dataset="digits",
        mode="health",
        objective="val_accuracy",
        config=config,
    )
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    for number in range(count):
        state = rng.choices(["completed", "pruned", "failed", "running"], weights=[80, 15, 4, 1])[0]
        rows.append(_trial_row(number, state, rng, t0))
        if len(rows) == BATCH:
            _insert(engine, rows)
            rows = []
        if number % 2_000 == 1_999:
            print(f"  {number + 1} trials written", flush=True)
    if rows:
        _insert(engine, rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _trial_row(number: int, state: str, rng: random.Random, t0: datetime) -> dict[str, Any]:
    finished = state in ("completed", "pruned", "failed")
    val_accuracy = round(rng.uniform(0.3, 0.99), 4) if state != "failed" else None
    health = round(rng.uniform(0.4, 0.95), 4)
    components = {k: round(rng.uniform(0.3, 1.0), 4) for k in ("neuron_utilization", "gradient_health")}
    components |= {k: round(rng.uniform(0.3, 1.0), 4) for k in ("training_stability", "convergence")}
    components["parameter_efficiency"] = round(rng.uniform(0.3, 1.0), 4)
    started = t0 + timedelta(seconds=30 * number)
    duration = rng.uniform(5, 60)
    return {
        "trial_id": f"{STUDY_ID}-{number}",
        "study_id": STUDY_ID,
        "number": number,
        "attempt": 1,
        "state": state,
        "params": {
            "conv_blocks": rng.randint(1, 3),
            "filters": rng.choice([16, 32, 64]),
            "dropout": round(rng.uniform(0, 0.5), 3),
            "learning_rate": 10 ** rng.uniform(-4, -2),
            "optimizer": rng.choice(["adam", "rmsprop", "sgd"]),
            "batch_size": rng.choice([32, 64, 128]),
        },
        "trainer_id": f"trainer-{number % 8}",
        "architecture": "Conv2D(32) > MaxPool > Dense(64) > Dense(10)",
        "parameter_count": rng.randint(5_000, 500_000),
        "metrics": {"val_accuracy": val_accuracy, "accuracy": val_accuracy, "training_seconds": duration}
        if state == "completed"
        else None,
        "val_accuracy": val_accuracy,
        "score": round(0.7 * (val_accuracy or 0) + 0.3 * health, 4) if state == "completed" else None,
        "objective_score": val_accuracy if state == "completed" else None,
        "overall_health": health,
        "health": {"components": components, "overall_health": health, "epoch": 5, "final": finished},
        "reason": "pruned at epoch 2" if state == "pruned" else ("NaN loss" if state == "failed" else None),
        "epochs_trained": 5,
        "started_at": started,
        "finished_at": started + timedelta(seconds=duration) if finished else None,
        "duration_seconds": duration if finished else None,
    }


def _insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(trials_table), rows)


def _measure(url: str, requests: int, warmup: int) -> list[str]:
    """The ``name=value`` lines, headline figures last."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", url, str(port)], cwd=REPO, env=env
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)
        print(f"API serving on {base} (pid {server.pid})", flush=True)
        endpoints = {
            "trials_page": f"/jobs/{STUDY_ID}/trials",
            "trials_page_by_score_desc": f"/jobs/{STUDY_ID}/trials?sort=score&order=desc",
            "best_trial": f"/jobs/{STUDY_ID}/best-trial",
        }
        results: dict[str, list[float]] = {}
        with httpx.Client(base_url=base, timeout=30) as client:
            first = client.get(endpoints["trials_page"]).json()
            assert first["total"] >= 1 and len(first["items"]) == 50, first
            for label, path in endpoints.items():
                for _ in range(warmup):
                    client.get(path).raise_for_status()
                timings = []
                for i in range(requests):
                    started = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    if (i + 1) % 50 == 0:
                        print(f"  {label}: {i + 1}/{requests} requests", flush=True)
                results[label] = timings
        for label, timings in results.items():
            print(
                f"{label}: p50 {statistics.median(timings):.1f} ms, p95 {_p95(timings):.1f} ms, "
                f"max {max(timings):.1f} ms over {len(timings)} requests",
                flush=True,
            )
        return [
            f"trials_page_by_score_desc_p95_ms={_p95(results['trials_page_by_score_desc']):.1f}",
            f"trials_page_p95_ms={_p95(results['trials_page']):.1f}",
            f"best_trial_p95_ms={_p95(results['best_trial']):.1f}",
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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


async def _serve(database_url: str, port: int) -> int:
    """The child process: the API as ``hpo serve api`` runs it, on the in-process bus."""
    from services.api import bootstrap
    from services.api.settings import ApiSettings
    from services.runtime.artifacts.local import LocalArtifactStore
    from services.runtime.bus.memory import InMemoryBus

    settings = ApiSettings(token=SecretStr(TOKEN), port=port)
    repository = ReadModelRepository(create_engine_for(database_url))
    bus = InMemoryBus()
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
