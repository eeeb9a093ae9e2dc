"""Read models for tests: a migrated SQLite repository and seeded studies with trials, epochs and an alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def migrated_repository(url: str) -> ReadModelRepository:
    """A repository over the database at ``url``, migrated to the latest schema (dispose ``.engine`` after)."""
    upgrade(url)
    return ReadModelRepository(create_engine_for(url))


def sqlite_repository(path: Path) -> ReadModelRepository:
    """A migrated repository over a SQLite file at ``path``."""
    return migrated_repository(sqlite_url(path))


def seed_study(
    repo: ReadModelRepository,
    study_id: str,
    *,
    trials: int = 5,
    state: str = "running",
    name: str | None = None,
    epochs: int = 2,
    created_at: datetime = T0,
    owner: str | None = None,
) -> None:
    """A study with ``trials`` completed trials (scores rising then falling), epochs and an alert;
    in a running study the last trial is still running."""
    repo.upsert_study(
        study_id,
        name=name or f"study_{study_id}",
        state=state,
        dataset="digits",
        mode="health",
        objective="val_accuracy",
        config={"dataset": "digits", "trials": trials},
        created_at=created_at,
        owner=owner,
    )
    for n in range(trials):
        trial_id = f"{study_id}-t{n}"
        running = state == "running" and n == trials - 1
        score = None if running else round(0.5 + 0.1 * (n % 4) + 0.01 * n, 4)
        repo.upsert_trial(
            trial_id,
            study_id,
            number=n,
            state="running" if running else "completed",
            params={"filters": 16 * (n + 1), "dropout": 0.1},
            val_accuracy=None if score is None else score - 0.05,
            score=score,
            overall_health=0.8 - 0.01 * n,
            started_at=T0 + timedelta(minutes=n),
            finished_at=None if running else T0 + timedelta(minutes=n, seconds=10 + n),
        )
        for epoch in range(1, epochs + 1):
            repo.record_epoch(
                trial_id, study_id, epoch, loss=1.0 / epoch, accuracy=0.5, val_loss=1.1 / epoch, val_accuracy=0.4
            )
    repo.record_alert(study_id, f"{study_id}-t0", kind="overfitting", severity="warning", message="gap", epoch=2)
