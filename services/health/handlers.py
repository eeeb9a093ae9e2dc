"""The health service's event handlers: small async functions taking the event and ``HealthDeps``.

- ``trial.epoch_completed``: record the epoch, publish a running assessment (``final=False``) and
  every alert not yet published for that trial. The planned last epoch (``max_epochs``) gets no running
  assessment: the final one follows with ``trial.completed`` (one event fewer per trial, seen by the
  scheduler, reporter and every API process; nothing prunes at the last epoch).
- ``trial.completed``: publish the final assessment (``final=True``) with the trial's metrics, even
  when no epoch was seen (the scheduler waits for it in health mode), then forget the trial.
- ``trial.pruned`` / ``trial.failed``: publish a final assessment when at least one epoch was seen,
  then forget the trial.

Published events copy ``study_id``, ``trial_id`` and ``correlation_id`` from the incoming event.
Each event is published before the state that records it changes, so a handler retried after a
failed publish sends what is missing (at the price of a repeated assessment, never a lost one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from contracts.events import (
    EventEnvelope,
    TrialCompleted,
    TrialEpochCompleted,
    TrialFailed,
    TrialHealthAlert,
    TrialHealthAlertData,
    TrialHealthAssessed,
    TrialHealthAssessedData,
    TrialPruned,
)
from contracts.health import HealthAssessment
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.health.alerts import alert_key, detect_alerts, latest_alerts
from services.health.overall import HealthWeights, assess
from services.health.state import HealthState
from services.runtime.bus.port import Publish
from services.runtime.errors import FatalError, StaleEvent
from services.runtime.handlers import HandlerTable
from services.runtime.observability.health import HealthMetrics

log = logging.getLogger(__name__)

SOURCE = "health"


@dataclass
class HealthDeps:
    publish: Publish
    weights: HealthWeights
    state: HealthState
    metrics: HealthMetrics = field(default_factory=HealthMetrics)


handlers: HandlerTable[HealthDeps] = HandlerTable("health")


@handlers.on(TrialEpochCompleted)
async def on_epoch_completed(event: TrialEpochCompleted, deps: HealthDeps) -> None:
    trial_id = _trial_id(event)
    trial = deps.state.record(trial_id, event.data.trial_number, event.data.telemetry, event.study_id)
    if trial is None:
        raise StaleEvent(f"epoch {event.data.telemetry.epoch} of trial {trial_id}, which ended or is foreign")
    deps.metrics.study_seen(event.study_id)
    if event.data.telemetry.epoch < event.data.max_epochs:
        assessment = assess(trial.epochs, None, deps.weights)
        await _publish_assessment(event, trial.trial_number, trial.epochs[-1].epoch, False, assessment, deps)
    in_order = trial.epochs[-1].epoch == event.data.telemetry.epoch
    for alert in latest_alerts(trial.epochs) if in_order else detect_alerts(trial.epochs):
        key = alert_key(alert)
        if key in trial.alerted:
            continue
        data = TrialHealthAlertData(trial_number=trial.trial_number, alert=alert)
        await deps.publish(event.follow_up(TrialHealthAlert, data, source=SOURCE))
        deps.metrics.alert(event.study_id, alert.kind)
        trial.alerted.add(key)
        log.info("trial %s: %s alert: %s", trial_id, alert.kind.value, alert.message)


@handlers.on(TrialCompleted)
async def on_trial_completed(event: TrialCompleted, deps: HealthDeps) -> None:
    trial_id = _trial_id(event)
    if deps.state.is_finished(trial_id) or not deps.state.belongs(trial_id, event.study_id):
        raise StaleEvent(f"trial.completed for trial {trial_id}, which ended or is foreign")
    metrics = event.data.metrics
    epochs = _epochs(deps, trial_id)
    last_epoch = epochs[-1].epoch if epochs else metrics.epochs_trained
    await _final(event, event.data.trial_number, epochs, metrics, last_epoch, deps)


@handlers.on(TrialPruned, TrialFailed)
async def on_trial_ended(event: TrialPruned | TrialFailed, deps: HealthDeps) -> None:
    """Pruned or failed: a final assessment from the epochs seen, when there is at least one."""
    trial_id = _trial_id(event)
    if deps.state.is_finished(trial_id) or not deps.state.belongs(trial_id, event.study_id):
        return
    epochs = _epochs(deps, trial_id)
    if epochs:
        await _final(event, event.data.trial_number, epochs, None, epochs[-1].epoch, deps)
    else:
        deps.state.finish(trial_id)


# ---- internals ------------------------------------------------------------------------------


def _trial_id(event: EventEnvelope) -> str:
    if event.trial_id is None:
        raise FatalError(f"{event.type} {event.id} has no trial_id")
    return event.trial_id


def _epochs(deps: HealthDeps, trial_id: str) -> list[EpochTelemetry]:
    trial = deps.state.get(trial_id)
    return list(trial.epochs) if trial is not None else []


async def _final(
    event: EventEnvelope,
    trial_number: int,
    epochs: list[EpochTelemetry],
    metrics: TrialMetrics | None,
    last_epoch: int,
    deps: HealthDeps,
) -> None:
    assessment = assess(epochs, metrics, deps.weights)
    await _publish_assessment(event, trial_number, last_epoch, True, assessment, deps)
    deps.metrics.assessed(event.study_id, assessment)
    deps.state.finish(_trial_id(event))


async def _publish_assessment(
    cause: EventEnvelope, trial_number: int, epoch: int, final: bool, assessment: HealthAssessment, deps: HealthDeps
) -> None:
    data = TrialHealthAssessedData(trial_number=trial_number, epoch=epoch, final=final, assessment=assessment)
    await deps.publish(cause.follow_up(TrialHealthAssessed, data, source=SOURCE))
