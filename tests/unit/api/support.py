"""API test helpers: the real in-process ports (InMemoryBus, migrated SQLite, local artifacts) and seed data."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from contracts.enums import AlertKind, Severity, StudyState
from contracts.events import (
    Event,
    EventEnvelope,
    ReportReady,
    ReportReadyData,
    StudyCompleted,
    StudyCompletedData,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialHeartbeat,
    TrialHeartbeatData,
    TrialStarted,
    TrialStartedData,
)
from contracts.health import HealthAlert
from contracts.telemetry import EpochTelemetry
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.cli.remote.client import parse_sse as read_sse
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository

TOKEN = "s3cr3t-token-for-tests-only-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_repository(path: Path) -> ReadModelRepository:
    url = sqlite_url(path)
    upgrade(url)
    return ReadModelRepository(create_engine_for(url))


def seed_study(
    repo: ReadModelRepository,
    study_id: str,
    *,
    trials: int = 5,
    state: str = "running",
    name: str | None = None,
    epochs: int = 2,
    created_at: datetime = T0,
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


def store_bundle(artifacts: LocalArtifactStore, study_id: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("report.md", "# results\n")
        bundle.writestr("trials.csv", "number,score\n0,0.5\n")
    data = buffer.getvalue()
    artifacts.put_bytes(f"studies/{study_id}/results.zip", data)
    return data


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    bus: InMemoryBus
    repo: ReadModelRepository
    artifacts: LocalArtifactStore
    published: list[Event]


def settings(**overrides: object) -> ApiSettings:
    values: dict[str, object] = {"token": TOKEN, "stream_keepalive_seconds": 0.2}
    values.update(overrides)
    return ApiSettings(**values)  # type: ignore[arg-type]


async def open_api(tmp_path: Path, **overrides: object) -> AsyncIterator[Api]:
    bus = InMemoryBus()
    repo = make_repository(tmp_path / "read_models.sqlite")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    published: list[Event] = []

    async def record(event: Event) -> None:
        published.append(event)

    await bus.subscribe("observer", ["study.*"], record)
    app = create_app(bus, repo, artifacts, settings(**overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(app, client, bus, repo, artifacts, published)
    await bus.close()
    repo.engine.dispose()


def trial_events(study_id: str, number: int = 0) -> list[EventEnvelope]:
    """One trial's life as the services publish it (a heartbeat included, which streams leave out)."""
    trial_id = f"{study_id}-t{number}"
    common = {"source": "test", "study_id": study_id, "trial_id": trial_id}
    telemetry = EpochTelemetry(epoch=1, loss=0.9, accuracy=0.6, val_loss=1.0, val_accuracy=0.55)
    return [
        TrialStarted(**common, data=TrialStartedData(trainer_id="t1", trial_number=number)),
        TrialHeartbeat(**common, data=TrialHeartbeatData(trainer_id="t1", epoch=1)),
        TrialEpochCompleted(
            **common,
            data=TrialEpochCompletedData(trainer_id="t1", trial_number=number, max_epochs=2, telemetry=telemetry),
        ),
        TrialHealthAlert(
            **common,
            data=TrialHealthAlertData(
                trial_number=number,
                alert=HealthAlert(kind=AlertKind.OVERFITTING, severity=Severity.WARNING, message="gap", epoch=1),
            ),
        ),
    ]


def end_events(study_id: str) -> list[EventEnvelope]:
    return [
        StudyCompleted(source="test", study_id=study_id, data=StudyCompletedData(state=StudyState.COMPLETED)),
        ReportReady(
            source="test",
            study_id=study_id,
            data=ReportReadyData(results_dir="/tmp/x", bundle_key=f"studies/{study_id}/results.zip"),
        ),
    ]


STREAMED_KINDS = [
    "trial.started",
    "trial.epoch_completed",
    "trial.health_alert",
    "study.completed",
    "report.ready",
    "end",
]  # what a job's stream carries for ``trial_events`` + ``end_events`` (the heartbeat left out)


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events body, read with the remote CLI's parser."""
    return [(event.name, event.data) for event in read_sse(iter(text.splitlines()))]
