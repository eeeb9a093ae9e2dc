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
    TrialFailed,
    TrialFailedData,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
    TrialRequestedData,
)
from contracts.health import HealthAlert, HealthAssessment
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry, Histogram
from services.reporter.bootstrap import start
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.repository import ReadModelRepository
from services.runtime.service import RunningService
from tests.support.bus import collect_events
from tests.support.events import epoch_completed, health_assessed, study_created, trial_completed, trial_started
from tests.support.read_models import sqlite_repository
from tests.support.telemetry import epoch_telemetry, health_assessment, layer_telemetry, trial_metrics

SRC = "test"
MODEL_BYTES = b"PK\x03\x04 a tiny placeholder for a .keras file"


def assessment(overall: float = 0.75, **components: float) -> HealthAssessment:
    """Every component ``overall`` unless told, one explanation line each."""
    return health_assessment(overall, components=components, default_component=overall)


_HISTOGRAM = Histogram(edges=[-0.2, -0.1, 0.0, 0.1, 0.2], counts=[2, 10, 12, 3])


def telemetry(epoch: int, *, loss: float, acc: float, val_loss: float, val_acc: float) -> EpochTelemetry:
    """A small CNN's epoch: a Conv2D and two Dense layers with histograms and gradients shrinking per epoch."""
    layers = [
        layer_telemetry(
            name,
            kind=kind,
            parameter_count=params,
            gradient_norm=grad / epoch,
            weight_mean=0.0,
            weight_std=0.05,
            weight_histogram=_HISTOGRAM,
            bias_histogram=_HISTOGRAM if kind != "Flatten" else None,
            dead_fraction=dead,
            saturated_fraction=0.01,
        )
        for name, kind, params, grad, dead in (
            ("conv2d", "Conv2D", 320, 0.5, 0.05),
            ("dense", "Dense", 2_080, 0.2, 0.2),
            ("dense_1", "Dense", 330, 0.1, None),
        )
    ]
    return epoch_telemetry(
        epoch,
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
    name: str = "demo-study"
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
        return self.add(study_created(self.study_id, self.config, name=self.name, source=SRC))

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
        architecture = "Conv2D(32) -> Dense(64) -> Dense(10)"
        return self.add(
            trial_started(
                self.study_id,
                trial_id,
                trial_number=number,
                trainer_id="w1",
                architecture=architecture,
                parameter_count=2730,
                source=SRC,
            )
        )

    def epoch(self, trial_id: str, number: int, epoch: int, **values: float) -> EventEnvelope:
        tele = telemetry(epoch, **values)
        return self.add(
            epoch_completed(self.study_id, trial_id, tele, trial_number=number, trainer_id="w1", source=SRC)
        )

    def health(self, trial_id: str, number: int, epoch: int, *, final: bool, overall: float) -> EventEnvelope:
        health = assessment(overall, convergence=0.5)
        return self.add(
            health_assessed(self.study_id, trial_id, health, trial_number=number, epoch=epoch, final=final, source=SRC)
        )

    def alert(self, trial_id: str, number: int, epoch: int) -> EventEnvelope:
        alert = HealthAlert(
            kind=AlertKind.OVERFITTING, severity=Severity.WARNING, message="val loss rising", epoch=epoch
        )
        return self._trial(TrialHealthAlert, trial_id, TrialHealthAlertData(trial_number=number, alert=alert))

    def completed(self, trial_id: str, number: int, *, val_acc: float, model_key: str | None) -> EventEnvelope:
        metrics = trial_metrics(
            val_acc,
            accuracy=val_acc + 0.05,
            training_seconds=4.5,
            parameter_count=2730,
            memory_mb=12.0,
            epochs_trained=3,
        )
        return self.add(
            trial_completed(
                self.study_id, trial_id, metrics, trial_number=number, trainer_id="w1", model_key=model_key, source=SRC
            )
        )

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
    repository = sqlite_repository(tmp_path / "read_models.sqlite")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    artifacts.put_bytes(model_key("study-1", "t0"), MODEL_BYTES)
    settings = ReporterSettings(results_root=tmp_path / "results", plot_workers=1)
    service = await start(bus, repository, artifacts, settings)
    published = await collect_events(bus, "observer", ["report.ready", "artifact.stored"])
    running = Reporter(bus, repository, artifacts, settings, service, published)
    try:
        yield running
    finally:
        await service.stop()
        await bus.close()
        repository.engine.dispose()


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
