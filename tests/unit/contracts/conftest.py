"""One fully populated sample of every event type, and builders of trial figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.enums import AlertKind, ControlAction, DatasetName, Mode, Objective, Severity, StudyState
from contracts.events import (
    ArtifactStored,
    ArtifactStoredData,
    EventEnvelope,
    ReportReady,
    ReportReadyData,
    StudyCompleted,
    StudyCompletedData,
    StudyCreated,
    StudyCreatedData,
    StudyResumed,
    StudyResumedData,
    StudyResumeRequested,
    StudyResumeRequestedData,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialCompleted,
    TrialCompletedData,
    TrialControl,
    TrialControlData,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialFailed,
    TrialFailedData,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialHealthAssessed,
    TrialHealthAssessedData,
    TrialHeartbeat,
    TrialHeartbeatData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
    TrialRequestedData,
    TrialStarted,
    TrialStartedData,
)
from contracts.health import HealthAlert, HealthAssessment
from contracts.search_space import ParamSpec
from contracts.study import BadFilePolicy, StudyConfig
from contracts.telemetry import EpochTelemetry, Histogram, TrialMetrics
from tests.support.telemetry import epoch_telemetry, health_assessment, layer_telemetry, trial_metrics

STUDY = "study-1"
TRIAL = "trial-1"
T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


CONTRACT_METRICS: dict[str, Any] = {
    "val_accuracy": 0.8,
    "accuracy": 0.9,
    "val_loss": 0.5,
    "loss": 0.3,
    "test_accuracy": 0.79,
    "training_seconds": 60.0,
    "parameter_count": 100_000,
    "memory_mb": 10.0,
    "epochs_trained": 5,
}


def make_metrics(**overrides: Any) -> TrialMetrics:
    return trial_metrics(**(CONTRACT_METRICS | overrides))


def make_health(overall: float = 0.6, **components: float) -> HealthAssessment:
    return health_assessment(overall, components=components, explanations={"neuron_utilization": "half the units fire"})


def _telemetry() -> EpochTelemetry:
    layer = layer_telemetry(
        "conv2d",
        kind="Conv2D",
        parameter_count=320,
        gradient_norm=0.12,
        weight_mean=0.001,
        weight_std=0.05,
        weight_abs_max=0.3,
        bias_mean=0.0,
        bias_std=0.01,
        weight_histogram=Histogram(edges=[-0.3, 0.0, 0.3], counts=[150, 170]),
        activation_mean=0.4,
        activation_std=0.2,
        dead_fraction=0.1,
        saturated_fraction=None,
    )
    return epoch_telemetry(
        2,
        loss=0.41,
        accuracy=0.88,
        val_loss=None,
        val_accuracy=0.85,
        learning_rate=1e-3,
        epoch_seconds=1.5,
        samples_per_second=1234.5,
        memory_rss_mb=512.0,
        telemetry_seconds=0.02,
        layers=[layer],
    )


def _samples() -> dict[str, EventEnvelope]:
    trial: dict[str, Any] = {"source": "test", "study_id": STUDY, "trial_id": TRIAL, "time": T0}
    study: dict[str, Any] = {"source": "test", "study_id": STUDY, "time": T0}
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        seed=7,
        search_space=[ParamSpec(name="dropout", type="float", low=0.1, high=0.2)],
    )
    events: list[EventEnvelope] = [
        StudyCreated(**study, correlation_id="corr-1", data=StudyCreatedData(study_name="demo", config=config)),
        StudyStopRequested(**study, data=StudyStopRequestedData(reason="enough")),
        StudyResumeRequested(**study, data=StudyResumeRequestedData(reason="go on")),
        StudyResumed(
            **study,
            data=StudyResumedData(completed_trials=2, pruned_trials=1, failed_trials=0, remaining_trials=3),
        ),
        StudyCompleted(
            **study,
            data=StudyCompletedData(
                state=StudyState.COMPLETED,
                completed_trials=3,
                pruned_trials=1,
                best_trial_id=TRIAL,
                best_trial_number=0,
                best_score=0.81,
                best_params={"filters": 32, "dropout": 0.25, "optimizer": "adam", "batch_norm": True},
            ),
        ),
        TrialRequested(
            **trial,
            data=TrialRequestedData(
                trial_number=0,
                attempt=2,
                params={"learning_rate": 0.001, "filters": 16},
                dataset=DatasetName.DIGITS,
                data_dir="/data",
                max_samples=500,
                max_epochs=3,
                seed=1,
                objective=Objective.VAL_ACCURACY,
                mode=Mode.HEALTH,
                retry_of="trial-0",
                on_bad_files=BadFilePolicy.FAIL,
                text_column="review",
                label_column="stars",
            ),
        ),
        TrialStarted(
            **trial,
            data=TrialStartedData(
                trainer_id="tr-1",
                trial_number=0,
                parameter_count=1000,
                data_notes=["image_folder: skipped 1 of 9 image files in /data:", "  a/b.png: truncated"],
            ),
        ),
        TrialHeartbeat(**trial, data=TrialHeartbeatData(trainer_id="tr-1", epoch=1)),
        TrialEpochCompleted(
            **trial,
            data=TrialEpochCompletedData(trainer_id="tr-1", trial_number=0, max_epochs=3, telemetry=_telemetry()),
        ),
        TrialControl(**trial, data=TrialControlData(action=ControlAction.PRUNE, reason="median")),
        TrialCompleted(
            **trial,
            data=TrialCompletedData(trainer_id="tr-1", trial_number=0, metrics=make_metrics(), model_key="m/k.keras"),
        ),
        TrialFailed(**trial, data=TrialFailedData(trial_number=0, reason="NaN loss at epoch 2", epochs_trained=2)),
        TrialPruned(**trial, data=TrialPrunedData(trainer_id="tr-1", trial_number=0, epoch=2, last_val_accuracy=0.4)),
        TrialHealthAssessed(
            **trial, data=TrialHealthAssessedData(trial_number=0, epoch=2, final=True, assessment=make_health())
        ),
        TrialHealthAlert(
            **trial,
            data=TrialHealthAlertData(
                trial_number=0,
                alert=HealthAlert(
                    kind=AlertKind.DEAD_LAYER, severity=Severity.WARNING, message="dead", epoch=2, layer="dense"
                ),
            ),
        ),
        ArtifactStored(**trial, data=ArtifactStoredData(key="studies/s/model.keras", kind="model", size_bytes=10)),
        ReportReady(**study, data=ReportReadyData(results_dir="/r", bundle_key="b.zip", best_trial_number=0)),
    ]
    return {event.type: event for event in events}


@pytest.fixture
def event_samples() -> dict[str, EventEnvelope]:
    """``{event type: a sample event with every optional field set}`` for every event type."""
    return _samples()


@pytest.fixture
def metrics() -> Callable[..., TrialMetrics]:
    """``metrics(**overrides)``: TrialMetrics with val_acc 0.8, acc 0.9, 60 s, 100k params, 10 MB."""
    return make_metrics


@pytest.fixture
def health() -> Callable[..., HealthAssessment]:
    """``health(overall=0.6, **components)``: every component 0.5 unless told."""
    return make_health
