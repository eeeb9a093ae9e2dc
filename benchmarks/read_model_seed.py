"""Seeds a read model with one big study, as the reporter would have written it, for the benchmarks.

``seeded_database`` creates a database on a Postgres server, migrates it like ``hpo db upgrade`` and
drops it on exit. ``seed_study`` writes one study of N trials (params, metrics and health JSON, a mix of
completed, pruned, failed and running trials) and, when asked, each trial's epochs with full telemetry
(layers with weight histograms, as the trainer's probe reports them) and a few health alerts: enough
for the report, the trends and the trials pages to do the work they do on a real study.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.runtime.db.engine import create_engine_for
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.schema import epochs as epochs_table
from services.runtime.db.schema import health_alerts as alerts_table
from services.runtime.db.schema import trials as trials_table

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 2_000
LAYERS = (("conv2d", "Conv2D", 320), ("conv2d_1", "Conv2D", 9_248), ("dense", "Dense", 102_464), ("out", "Dense", 650))


@contextmanager
def seeded_database(admin_url: str, label: str) -> Iterator[str]:
    """A fresh, migrated database on ``admin_url``'s server (its URL), dropped afterwards."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"hpo_bench_{label}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    print(f"database {name} created", flush=True)
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"database {name} dropped", flush=True)


def seed_study(
    url: str,
    study_id: str,
    trials: int,
    *,
    epochs_per_trial: int = 0,
    state: str = "running",
    layers: bool = True,
) -> float:
    """Write the study and its trials (and epochs, their telemetry with per-layer statistics unless
    ``layers`` is False); returns the seconds it took."""
    started = time.perf_counter()
    engine = create_engine_for(url)
    repo = ReadModelRepository(engine)
    config = {"dataset": "digits", "mode": "health", "optimize_for": "val_accuracy", "trials": trials}
    repo.upsert_study(
        study_id,
        name=f"bench-{study_id[-8:]}",
        state=state,
        dataset="digits",
        mode="health",
        objective="val_accuracy",
        config=config,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    rng = random.Random(7)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    epoch_rows: list[dict[str, Any]] = []
    alert_rows: list[dict[str, Any]] = []
    for number in range(trials):
        trial_state = rng.choices(["completed", "pruned", "failed", "running"], weights=[80, 15, 4, 1])[0]
        row = trial_row(study_id, number, trial_state, rng, t0, epochs_per_trial or 5)
        rows.append(row)
        for epoch in range(1, min(epochs_per_trial, row["epochs_trained"]) + 1):
            epoch_rows.append(epoch_row(row, epoch, rng, layers=layers))
        if epochs_per_trial and number % 10 == 3:
            alert_rows.append(alert_row(row, rng))
        if len(rows) == BATCH:
            _insert(engine, rows, epoch_rows, alert_rows)
            rows, epoch_rows, alert_rows = [], [], []
        if number % 10_000 == 9_999:
            print(f"  {number + 1} trials written", flush=True)
    if rows:
        _insert(engine, rows, epoch_rows, alert_rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def trial_row(
    study_id: str, number: int, state: str, rng: random.Random, t0: datetime, max_epochs: int
) -> dict[str, Any]:
    finished = state in ("completed", "pruned", "failed")
    val_accuracy = round(rng.uniform(0.3, 0.99), 4) if state != "failed" else None
    health = round(rng.uniform(0.4, 0.95), 4)
    names = ("neuron_utilization", "gradient_health", "training_stability", "convergence", "parameter_efficiency")
    components = {k: round(rng.uniform(0.3, 1.0), 4) for k in names}
    started = t0 + timedelta(seconds=30 * number)
    duration = rng.uniform(5, 60)
    epochs_trained = max_epochs if state == "completed" else rng.randint(1, max_epochs)
    return {
        "trial_id": f"{study_id}-{number}",
        "study_id": study_id,
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
        "metrics": {
            "val_accuracy": val_accuracy,
            "accuracy": val_accuracy,
            "training_seconds": duration,
            "parameter_count": 112_682,
            "memory_mb": 300.0,
            "epochs_trained": epochs_trained,
        }
        if state == "completed"
        else None,
        "val_accuracy": val_accuracy,
        "score": round(0.7 * (val_accuracy or 0) + 0.3 * health, 4) if state == "completed" else None,
        "objective_score": val_accuracy if state == "completed" else None,
        "overall_health": health,
        "health": {
            "components": components,
            "weights": dict.fromkeys(names, 0.2),
            "overall_health": health,
            "explanations": dict.fromkeys(names, "seeded by the benchmark"),
            "epoch": epochs_trained,
            "final": finished,
        },
        "reason": "pruned at epoch 2" if state == "pruned" else ("NaN loss" if state == "failed" else None),
        "epochs_trained": epochs_trained,
        "started_at": started,
        "finished_at": started + timedelta(seconds=duration) if finished else None,
        "duration_seconds": duration if finished else None,
    }


def epoch_row(trial: dict[str, Any], epoch: int, rng: random.Random, *, layers: bool = True) -> dict[str, Any]:
    loss = 2.0 * math.exp(-0.4 * epoch) + rng.uniform(0, 0.1)
    val_loss = loss + rng.uniform(0, 0.2)
    accuracy = min(0.99, 1 - loss / 2.5)
    telemetry = {
        "epoch": epoch,
        "loss": loss,
        "accuracy": accuracy,
        "val_loss": val_loss,
        "val_accuracy": accuracy - 0.02,
        "learning_rate": 0.001,
        "epoch_seconds": rng.uniform(1, 10),
        "samples_per_second": 2_000.0,
        "memory_rss_mb": 400.0,
        "telemetry_seconds": 0.05,
        "layers": [_layer(name, kind, params, rng) for name, kind, params in LAYERS] if layers else [],
    }
    return {
        "trial_id": trial["trial_id"],
        "study_id": trial["study_id"],
        "epoch": epoch,
        "loss": loss,
        "accuracy": accuracy,
        "val_loss": val_loss,
        "val_accuracy": accuracy - 0.02,
        "epoch_seconds": telemetry["epoch_seconds"],
        "telemetry": telemetry,
    }


def _layer(name: str, kind: str, parameter_count: int, rng: random.Random) -> dict[str, Any]:
    edges = [round(-0.5 + i * 0.05, 3) for i in range(21)]
    return {
        "name": name,
        "kind": kind,
        "parameter_count": parameter_count,
        "gradient_norm": 10 ** rng.uniform(-4, 0),
        "weight_mean": rng.gauss(0, 0.01),
        "weight_std": rng.uniform(0.02, 0.2),
        "weight_abs_max": rng.uniform(0.2, 0.5),
        "bias_mean": 0.0,
        "bias_std": 0.01,
        "weight_histogram": {"edges": edges, "counts": [rng.randint(0, 500) for _ in range(20)]},
        "bias_histogram": None,
        "activation_mean": rng.uniform(0, 1),
        "activation_std": rng.uniform(0, 1),
        "dead_fraction": rng.uniform(0, 0.3),
        "saturated_fraction": None,
    }


def alert_row(trial: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {
        "study_id": trial["study_id"],
        "trial_id": trial["trial_id"],
        "epoch": 1,
        "kind": rng.choice(["overfitting", "dead_neurons", "vanishing_gradients"]),
        "severity": "warning",
        "layer": "",
        "message": "seeded by the benchmark",
    }


def _insert(
    engine: sa.Engine, rows: list[dict[str, Any]], epoch_rows: list[dict[str, Any]], alert_rows: list[dict[str, Any]]
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(trials_table), rows)
        if epoch_rows:
            conn.execute(sa.insert(epochs_table), epoch_rows)
        if alert_rows:
            conn.execute(sa.insert(alerts_table), alert_rows)
