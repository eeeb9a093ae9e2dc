"""Factories of events as the services publish them, and one trial's life for the stream tests.

Each factory takes the ids and the payload figures; ``envelope`` passes envelope fields such as
``correlation_id`` or ``time`` through.
"""

from __future__ import annotations

from typing import Any

from contracts.enums import AlertKind, Severity, StudyState
from contracts.events import (
    Event,
    ReportReady,
    ReportReadyData,
    StudyCompleted,
    StudyCompletedData,
    StudyCreated,
    StudyCreatedData,
    TrialCompleted,
    TrialCompletedData,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialHealthAssessed,
    TrialHealthAssessedData,
    TrialHeartbeat,
    TrialHeartbeatData,
    TrialStarted,
    TrialStartedData,
)
from contracts.health import HealthAlert, HealthAssessment
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry, TrialMetrics
from tests.support.telemetry import epoch_telemetry

SOURCE = "test"


def study_created(
    study_id: str, config: StudyConfig, *, name: str | None = None, source: str = SOURCE, **envelope: Any
) -> StudyCreated:
    """``study.created`` for ``config``; the study is named after its id unless told."""
    data = StudyCreatedData(study_name=study_id if name is None else name, config=config)
    return StudyCreated(source=source, study_id=study_id, data=data, **envelope)


def trial_started(
    study_id: str,
    trial_id: str,
    *,
    trial_number: int = 0,
    trainer_id: str = "t1",
    architecture: str = "",
    parameter_count: int = 0,
    source: str = SOURCE,
    **envelope: Any,
) -> TrialStarted:
    data = TrialStartedData(
        trainer_id=trainer_id, trial_number=trial_number, architecture=architecture, parameter_count=parameter_count
    )
    return TrialStarted(source=source, study_id=study_id, trial_id=trial_id, data=data, **envelope)


def epoch_completed(
    study_id: str,
    trial_id: str | None,
    telemetry: EpochTelemetry,
    *,
    trial_number: int = 0,
    max_epochs: int = 3,
    trainer_id: str = "t1",
    source: str = SOURCE,
    **envelope: Any,
) -> TrialEpochCompleted:
    data = TrialEpochCompletedData(
        trainer_id=trainer_id, trial_number=trial_number, max_epochs=max_epochs, telemetry=telemetry
    )
    return TrialEpochCompleted(source=source, study_id=study_id, trial_id=trial_id, data=data, **envelope)


def trial_completed(
    study_id: str,
    trial_id: str,
    metrics: TrialMetrics,
    *,
    trial_number: int = 0,
    trainer_id: str = "t1",
    model_key: str | None = None,
    source: str = SOURCE,
    **envelope: Any,
) -> TrialCompleted:
    data = TrialCompletedData(trainer_id=trainer_id, trial_number=trial_number, metrics=metrics, model_key=model_key)
    return TrialCompleted(source=source, study_id=study_id, trial_id=trial_id, data=data, **envelope)


def health_assessed(
    study_id: str,
    trial_id: str,
    assessment: HealthAssessment,
    *,
    trial_number: int = 0,
    epoch: int = 1,
    final: bool = False,
    source: str = SOURCE,
    **envelope: Any,
) -> TrialHealthAssessed:
    data = TrialHealthAssessedData(trial_number=trial_number, epoch=epoch, final=final, assessment=assessment)
    return TrialHealthAssessed(source=source, study_id=study_id, trial_id=trial_id, data=data, **envelope)


def trial_events(study_id: str, number: int = 0) -> list[Event]:
    """One trial's life as the services publish it (a heartbeat included, which streams leave out)."""
    trial_id = f"{study_id}-t{number}"
    telemetry = epoch_telemetry(1, loss=0.9, accuracy=0.6, val_loss=1.0, val_accuracy=0.55)
    alert = HealthAlert(kind=AlertKind.OVERFITTING, severity=Severity.WARNING, message="gap", epoch=1)
    return [
        trial_started(study_id, trial_id, trial_number=number),
        TrialHeartbeat(
            source=SOURCE, study_id=study_id, trial_id=trial_id, data=TrialHeartbeatData(trainer_id="t1", epoch=1)
        ),
        epoch_completed(study_id, trial_id, telemetry, trial_number=number, max_epochs=2),
        TrialHealthAlert(
            source=SOURCE,
            study_id=study_id,
            trial_id=trial_id,
            data=TrialHealthAlertData(trial_number=number, alert=alert),
        ),
    ]


def end_events(study_id: str) -> list[Event]:
    """How a study ends: ``study.completed`` then ``report.ready`` with its results ZIP."""
    return [
        StudyCompleted(source=SOURCE, study_id=study_id, data=StudyCompletedData(state=StudyState.COMPLETED)),
        ReportReady(
            source=SOURCE,
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
