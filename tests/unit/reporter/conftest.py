"""Synthetic studies for the reporter tests: event builders and a running reporter over the real
``InMemoryBus``, a migrated SQLite read model in ``tmp_path`` and a ``LocalArtifactStore``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contracts.enums import AlertKind, DatasetName, Mode, Severity, StudyState
from contracts.events import (
    ArtifactStored,
    ArtifactStoredData,
    Event,
    EventEnvelope,
    StudyCompleted,
    StudyCompletedData,
    StudyCreated,
    StudyCreatedData,
    TrialCompleted,
    TrialCompletedData,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialFailed,
    TrialFailedData,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialHealthAssessed,
    TrialHealthAssessedData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
    TrialRequestedData,
    TrialStarted,
    TrialStartedData,
)
from contracts.health import HEALTH_COMPONENTS, HealthAlert, HealthAssessment, HealthComponents
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry, Histogram, LayerTelemetry, TrialMetrics
from services.reporter.bootstrap import start
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.service import RunningService

SRC = "test"
MODEL_BYTES = b"PK\x03\x04 a tiny placeholder for a .keras file"


def assessment(overall: float = 0.75, **components: float) -> HealthAssessment:
    values = dict.fromkeys(HEALTH_COMPONENTS, overall) | components
    return HealthAssessment(
        components=HealthComponents(**values),
        weights=dict.fromkeys(HEALTH_COMPONENTS, 0.2),
        overall_health=overall,
        explanations={name: f"{name.replace('_', ' ')} explained in one line" for name in HEALTH_COMPONENTS},
    )


def telemetry(epoch: int, *, loss: float, acc: float, val_loss: float, val_acc: float) -> EpochTelemetry:
    hist = Histogram(edges=[-0.2, -0.1, 0.0, 0.1, 0.2], counts=[2, 10, 12, 3])
    layers = [
        LayerTelemetry(
            name=name,
            kind=kind,
            parameter_count=params,
            gradient_norm=grad / epoch,
            weight_mean=0.0,
            weight_std=0.05,
            weight_histogram=hist,
            bias_histogram=hist if kind != "Flatten" else None,
            dead_fraction=dead,
            saturated_fraction=0.01,
        )
        for name, kind, params, grad, dead in (
            ("conv2d", "Conv2D", 320, 0.5, 0.05),
            ("dense", "Dense", 2_080, 0.2, 0.2),
            ("dense_1", "Dense", 330, 0.1, None),
        )
    ]
    return EpochTelemetry(
        epoch=epoch,
        loss=loss,
        accuracy=acc,
        val_loss=val_loss,
        val_accuracy=val_acc,
        learning_rate=1e-3,
        epoch_seconds=1.5,
        samples_per_second=900.0,
        memory_rss_mb=300.0,
        layers=layers,
    )


@dataclass
class StudyScript:
    """Builds the events of one synthetic study, in publish order."""

    study_id: str = "study-1"
    name: str = "demo study"
    mode: Mode = Mode.HEALTH
    health_weight: float = 0.3
    events: list[EventEnvelope] = field(default_factory=list)

    @property
    def config(self) -> StudyConfig:
        return StudyConfig(
            dataset=DatasetName.DIGITS, mode=self.mode, trials=3, max_epochs=3, health_weight=self.health_weight, seed=1
        )

    def add(self, event: EventEnvelope) -> EventEnvelope:
        self.events.append(event)
        return event

    def created(self) -> EventEnvelope:
        return self.add(
            StudyCreated(
                source=SRC, study_id=self.study_id, data=StudyCreatedData(study_name=self.name, config=self.config)
            )
        )

    def _trial(self, cls: type[Any], trial_id: str, data: Any) -> EventEnvelope:
        return self.add(cls(source=SRC, study_id=self.study_id, trial_id=trial_id, data=data))

    def requested(self, trial_id: str, number: int, params: dict[str, Any] | None = None) -> EventEnvelope:
        params = params or {"filters": 32, "learning_rate": 0.001 * (number + 1), "activation": "relu"}
        data = TrialRequestedData(
            trial_number=number,
            params=params,
            dataset=DatasetName.DIGITS,
            max_epochs=3,
            objective=self.config.optimize_for,
            mode=self.mode,
        )
        return self._trial(TrialRequested, trial_id, data)

    def started(self, trial_id: str, number: int) -> EventEnvelope:
        data = TrialStartedData(
            trainer_id="w1",
            trial_number=number,
            architecture="Conv2D(32) -> Dense(64) -> Dense(10)",
            parameter_count=2730,
        )
        return self._trial(TrialStarted, trial_id, data)

    def epoch(self, trial_id: str, number: int, epoch: int, **values: float) -> EventEnvelope:
        data = TrialEpochCompletedData(
            trainer_id="w1", trial_number=number, max_epochs=3, telemetry=telemetry(epoch, **values)
        )
        return self._trial(TrialEpochCompleted, trial_id, data)

    def health(self, trial_id: str, number: int, epoch: int, *, final: bool, overall: float) -> EventEnvelope:
        data = TrialHealthAssessedData(
            trial_number=number, epoch=epoch, final=final, assessment=assessment(overall, convergence=0.5)
        )
        return self._trial(TrialHealthAssessed, trial_id, data)

    def alert(self, trial_id: str, number: int, epoch: int) -> EventEnvelope:
        alert = HealthAlert(
            kind=AlertKind.OVERFITTING, severity=Severity.WARNING, message="val loss rising", epoch=epoch
        )
        return self._trial(TrialHealthAlert, trial_id, TrialHealthAlertData(trial_number=number, alert=alert))

    def completed(self, trial_id: str, number: int, *, val_acc: float, model_key: str | None) -> EventEnvelope:
        metrics = TrialMetrics(
            val_accuracy=val_acc,
            accuracy=val_acc + 0.05,
            training_seconds=4.5,
            parameter_count=2730,
            memory_mb=12.0,
            epochs_trained=3,
        )
        data = TrialCompletedData(trainer_id="w1", trial_number=number, metrics=metrics, model_key=model_key)
        return self._trial(TrialCompleted, trial_id, data)

    def pruned(self, trial_id: str, number: int, epoch: int) -> EventEnvelope:
        data = TrialPrunedData(
            trainer_id="w1", trial_number=number, epoch=epoch, reason="below median", last_val_accuracy=0.3
        )
        return self._trial(TrialPruned, trial_id, data)

    def failed(self, trial_id: str, number: int, reason: str) -> EventEnvelope:
        return self._trial(TrialFailed, trial_id, TrialFailedData(trainer_id="w1", trial_number=number, reason=reason))

    def artifact(self, key: str, size: int) -> EventEnvelope:
        data = ArtifactStoredData(key=key, kind="model", size_bytes=size)
        return self.add(ArtifactStored(source=SRC, study_id=self.study_id, data=data))

    def study_completed(self, best_trial_id: str | None, best_number: int | None) -> EventEnvelope:
        data = StudyCompletedData(
            state=StudyState.COMPLETED,
            completed_trials=1,
            pruned_trials=1,
            failed_trials=1,
            best_trial_id=best_trial_id,
            best_trial_number=best_number,
        )
        return self.add(StudyCompleted(source=SRC, study_id=self.study_id, data=data))


def model_key(study_id: str, trial_id: str) -> str:
    return f"studies/{study_id}/trials/{trial_id}/model.keras"


def three_trial_study(mode: Mode = Mode.HEALTH) -> StudyScript:
    """t0 completes (3 epochs, overfitting alert), t1 is pruned after 1 epoch, t2 fails."""
    s = StudyScript(mode=mode)
    s.created()
    s.requested("t0", 0)
    s.started("t0", 0)
    curves = [(1.2, 0.6, 1.0, 0.7), (0.8, 0.8, 0.9, 0.85), (0.5, 0.9, 1.1, 0.84)]
    for epoch, (loss, acc, val_loss, val_acc) in enumerate(curves, start=1):
        s.epoch("t0", 0, epoch, loss=loss, acc=acc, val_loss=val_loss, val_acc=val_acc)
        s.health("t0", 0, epoch, final=False, overall=0.6 + 0.05 * epoch)
    s.alert("t0", 0, 3)
    s.requested("t1", 1)
    s.started("t1", 1)
    s.epoch("t1", 1, 1, loss=2.0, acc=0.2, val_loss=2.1, val_acc=0.3)
    s.pruned("t1", 1, 1)
    s.health("t1", 1, 1, final=True, overall=0.4)
    s.requested("t2", 2)
    s.failed("t2", 2, "out of memory while building the model")
    s.completed("t0", 0, val_acc=0.84, model_key=model_key(s.study_id, "t0"))
    s.artifact(model_key(s.study_id, "t0"), len(MODEL_BYTES))
    s.health("t0", 0, 3, final=True, overall=0.8)
    s.study_completed("t0", 0)
    return s


@dataclass
class Reporter:
    """A started reporter and what it publishes."""

    bus: InMemoryBus
    repository: ReadModelRepository
    artifacts: LocalArtifactStore
    settings: ReporterSettings
    service: RunningService
    published: list[Event] = field(default_factory=list)

    async def publish(self, events: Iterable[EventEnvelope]) -> None:
        for event in events:
            await self.bus.publish(event)
        await self.bus.wait_idle()


@pytest.fixture
async def reporter(tmp_path: Path) -> AsyncIterator[Reporter]:
    bus = InMemoryBus()
    await bus.start()
    url = sqlite_url(tmp_path / "read_models.sqlite")
    upgrade(url)
    engine = create_engine_for(url)
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    artifacts.put_bytes(model_key("study-1", "t0"), MODEL_BYTES)
    settings = ReporterSettings(results_root=tmp_path / "results", plot_workers=1)
    repository = ReadModelRepository(engine)
    service = await start(bus, repository, artifacts, settings)
    running = Reporter(bus, repository, artifacts, settings, service)

    async def observe(event: Event) -> None:
        running.published.append(event)

    await bus.subscribe("observer", ["report.ready", "artifact.stored"], observe)
    try:
        yield running
    finally:
        await service.stop()
        await bus.close()
        engine.dispose()


@pytest.fixture
def study_script() -> type[StudyScript]:
    """The ``StudyScript`` builder class."""
    return StudyScript


@pytest.fixture
def three_trials() -> Any:
    """``three_trial_study(mode)``: the canonical synthetic study."""
    return three_trial_study


@pytest.fixture
def model_bytes() -> bytes:
    return MODEL_BYTES
