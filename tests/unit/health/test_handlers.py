"""The health service over the real in-process bus: what it publishes for a trial's events."""

from __future__ import annotations

import pytest

from contracts.enums import AlertKind
from contracts.events import (
    TrialEpochCompleted,
    TrialFailed,
    TrialFailedData,
    TrialHealthAlert,
    TrialHealthAssessed,
    TrialPruned,
    TrialPrunedData,
)
from contracts.telemetry import EpochTelemetry
from services.health.bootstrap import start
from services.health.overall import HealthWeights
from services.health.settings import HealthSettings
from services.runtime.bus.memory import InMemoryBus
from tests.support.bus import collect_events
from tests.support.events import epoch_completed, trial_completed

STUDY = "study-1"
CORRELATION = "corr-42"


@pytest.fixture
async def bus():
    bus = InMemoryBus()
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def published(bus):
    """Everything the health service publishes, in order, collected on a test queue."""
    seen = await collect_events(bus, "test-observer", ["trial.health_assessed", "trial.health_alert"])
    service = await start(bus, HealthSettings(weights=HealthWeights(), max_tracked_trials=10))
    yield seen
    await service.stop()


def _epoch_event(trial_id: str | None, telemetry: EpochTelemetry, number: int = 3) -> TrialEpochCompleted:
    return epoch_completed(
        STUDY,
        trial_id,
        telemetry,
        trial_number=number,
        max_epochs=5,
        trainer_id="tr-1",
        source="trainer",
        correlation_id=CORRELATION,
    )


def _sick_epochs(epoch, layer):
    """Three epochs: a dead layer throughout, exploding gradients from epoch 3."""
    norms = [0.1, 0.2, 5e4]
    return [
        epoch(
            i + 1,
            loss=1.0 - 0.2 * i,
            val_loss=1.0 - 0.2 * i,
            layers=[
                layer("dense_relu", gradient_norm=norms[i], dead_fraction=0.8),
                layer("output", gradient_norm=0.05, dead_fraction=0.0),
            ],
        )
        for i in range(3)
    ]


async def test_epochs_then_completion_publish_assessments_and_deduped_alerts(bus, published, epoch, layer, metrics):
    for telemetry in _sick_epochs(epoch, layer):
        await bus.publish(_epoch_event("trial-a", telemetry))
    figures = metrics(val_accuracy=0.9, parameter_count=1_000_000)
    await bus.publish(
        trial_completed(
            STUDY, "trial-a", figures, trial_number=3, trainer_id="tr-1", source="trainer", correlation_id=CORRELATION
        )
    )
    await bus.wait_idle()

    assessments = [e for e in published if isinstance(e, TrialHealthAssessed)]
    alerts = [e for e in published if isinstance(e, TrialHealthAlert)]
    assert [(a.data.epoch, a.data.final) for a in assessments] == [(1, False), (2, False), (3, False), (3, True)]
    final = assessments[-1]
    assert published[-1] == final
    assert all(
        (e.source, e.study_id, e.trial_id, e.correlation_id) == ("health", STUDY, "trial-a", CORRELATION)
        for e in published
    )
    assert final.data.trial_number == 3
    assessment = final.data.assessment
    assert assessment.components.parameter_efficiency == pytest.approx(0.9 * 0.5)  # from the trial metrics
    assert assessment.components.neuron_utilization == pytest.approx((0.2 + 1.0) / 2)
    assert assessment.components.gradient_health < 0.5
    assert assessment.overall_health == pytest.approx(
        sum(assessment.weights[k] * v for k, v in assessment.components.model_dump().items())
    )
    # The dead layer shows in all three epochs but is alerted once; exploding gradients once, at epoch 3.
    assert sorted((a.data.alert.kind, a.data.alert.layer, a.data.alert.epoch) for a in alerts) == [
        (AlertKind.DEAD_LAYER, "dense_relu", 1),
        (AlertKind.EXPLODING_GRADIENTS, "dense_relu", 3),
    ]
    assert await bus.dead_letters("health") == []


async def test_the_last_planned_epoch_gets_no_running_assessment_the_final_one_follows(bus, published, epoch, metrics):
    for number in range(1, 6):  # max_epochs=5
        await bus.publish(_epoch_event("trial-last", epoch(number, loss=1.0 / number, val_loss=1.0 / number)))
    await bus.wait_idle()
    assessments = [e for e in published if isinstance(e, TrialHealthAssessed)]
    assert [(a.data.epoch, a.data.final) for a in assessments] == [(1, False), (2, False), (3, False), (4, False)]
    await bus.publish(trial_completed(STUDY, "trial-last", metrics(), trial_number=3, trainer_id="tr-1", source="t"))
    await bus.wait_idle()
    final = [e for e in published if isinstance(e, TrialHealthAssessed)][-1]
    assert (final.data.epoch, final.data.final) == (5, True)


async def test_completion_without_epochs_still_gets_a_final_assessment(bus, published, metrics):
    event = trial_completed(
        STUDY, "trial-b", metrics(epochs_trained=4), trial_number=7, trainer_id="tr-1", source="trainer"
    )
    await bus.publish(event)
    await bus.wait_idle()
    (final,) = published
    assert isinstance(final, TrialHealthAssessed)
    assert (final.data.final, final.data.epoch, final.data.trial_number) == (True, 4, 7)
    assert final.correlation_id == STUDY  # the envelope default, copied from the incoming event


async def test_pruned_trial_gets_a_final_assessment_and_late_epochs_are_ignored(bus, published, epoch, layer):
    epochs = _sick_epochs(epoch, layer)
    await bus.publish(_epoch_event("trial-c", epochs[0]))
    await bus.publish(
        TrialPruned(
            source="scheduler",
            study_id=STUDY,
            trial_id="trial-c",
            data=TrialPrunedData(trainer_id="tr-1", trial_number=3, epoch=1),
        )
    )
    await bus.publish(_epoch_event("trial-c", epochs[1]))
    await bus.wait_idle()
    assessments = [e for e in published if isinstance(e, TrialHealthAssessed)]
    assert [(a.data.epoch, a.data.final) for a in assessments] == [(1, False), (1, True)]


async def test_failed_trial_without_epochs_publishes_nothing(bus, published):
    await bus.publish(
        TrialFailed(
            source="trainer", study_id=STUDY, trial_id="trial-d", data=TrialFailedData(trial_number=1, reason="oom")
        )
    )
    await bus.wait_idle()
    assert published == []


async def test_trial_event_without_trial_id_is_dead_lettered(bus, published, epoch):
    await bus.publish(_epoch_event(None, epoch(1)))
    await bus.wait_idle()
    assert published == []
    (dead,) = await bus.dead_letters("health")
    assert "trial_id" in dead.reason
