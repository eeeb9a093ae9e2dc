"""The trainer's event handlers: run each requested trial in a worker thread and report it.

While a trial runs the event loop stays free: it sends heartbeats, receives ``trial.control`` into
the ``ControlBoard``, and publishes what the training thread hands it, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from contracts.architecture import LayerSpec
from contracts.enums import ControlAction
from contracts.events import (
    ArtifactStored,
    ArtifactStoredData,
    TrialCompleted,
    TrialCompletedData,
    TrialControl,
    TrialEpochCompleted,
    TrialEpochCompletedData,
    TrialFailed,
    TrialFailedData,
    TrialHeartbeat,
    TrialHeartbeatData,
    TrialPruned,
    TrialPrunedData,
    TrialRequested,
    TrialStarted,
    TrialStartedData,
)
from contracts.telemetry import EpochTelemetry
from services.runtime.bus.port import Publish
from services.runtime.handlers import HandlerTable
from services.runtime.observability.training import TrainingMetrics
from services.trainer.control import ControlBoard, ControlRequest
from services.trainer.idle import Activity
from services.trainer.outbox import Outbox
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome, TrialRunner
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
SOURCE = "trainer"


@dataclass
class TrainerDeps:
    publish: Publish
    runner: TrialRunner
    settings: TrainerSettings
    board: ControlBoard = field(default_factory=ControlBoard)
    metrics: TrainingMetrics = field(default_factory=lambda: TrainingMetrics("trainer"))
    activity: Activity = field(default_factory=Activity)
    running: set[str] = field(default_factory=set)
    """The ids of the trials this trainer runs now (``hand_back``)."""


HAND_BACK = "the trainer is shutting down: the trial goes back to the scheduler"


def hand_back(deps: TrainerDeps) -> None:
    """Shutting down (SIGTERM from Kubernetes or ``docker stop``): end each running trial at once, at its next
    batch or epoch boundary, and report it handed back instead of its result, so the scheduler asks for it
    again at once (another trainer takes it) and this trainer exits within one epoch."""
    for trial_id in tuple(deps.running):
        deps.board.request(trial_id, ControlAction.SUPERSEDED, HAND_BACK)


work_handlers: HandlerTable[TrainerDeps] = HandlerTable("trainer.work")
"""The shared work queue: one trial at a time."""
control_handlers: HandlerTable[TrainerDeps] = HandlerTable("trainer.control")
"""This trainer's own control feed (an exclusive queue): prune and stop requests."""


@control_handlers.on(TrialControl)
async def on_trial_control(event: TrialControl, deps: TrainerDeps) -> None:
    if event.trial_id:
        deps.board.request(event.trial_id, event.data.action, event.data.reason, event.data.epoch)


@work_handlers.on(TrialRequested)
async def on_trial_requested(event: TrialRequested, deps: TrainerDeps) -> None:
    if event.trial_id is None:
        return
    job = TrialJob(study_id=event.study_id, trial_id=event.trial_id, request=event.data)
    trainer_id = deps.settings.trainer_id
    number = job.request.trial_number
    cancelled = deps.board.pending(job.trial_id)
    if cancelled is not None:  # stopped while it waited in the work queue: say so, or the study waits on it
        log.info("trial %d was cancelled before it started", number)
        deps.board.forget(job.trial_id)
        reason = f"cancelled before it started: {cancelled.reason}"
        await deps.publish(
            event.follow_up(
                TrialFailed, TrialFailedData(trainer_id=trainer_id, trial_number=number, reason=reason), source=SOURCE
            )
        )
        return
    outbox = Outbox(deps.publish)
    current_epoch = 0
    data_notes: list[str] = []
    layers: list[LayerSpec] = []

    def data_loaded(notes: list[str]) -> None:
        data_notes[:] = notes

    def layers_built(built: list[LayerSpec]) -> None:
        layers[:] = built

    def started(architecture: str, parameter_count: int) -> None:
        data = TrialStartedData(
            trainer_id=trainer_id,
            trial_number=number,
            attempt=job.request.attempt,
            architecture=architecture,
            parameter_count=parameter_count,
            layers=layers,
            data_notes=data_notes,
        )
        outbox.put_threadsafe(event.follow_up(TrialStarted, data, source=SOURCE))

    def epoch_completed(telemetry: EpochTelemetry) -> None:
        nonlocal current_epoch
        current_epoch = telemetry.epoch
        deps.metrics.epoch_completed(job.study_id, telemetry)
        data = TrialEpochCompletedData(
            trainer_id=trainer_id, trial_number=number, max_epochs=job.request.max_epochs, telemetry=telemetry
        )
        outbox.put_threadsafe(event.follow_up(TrialEpochCompleted, data, source=SOURCE))

    def control() -> ControlRequest | None:
        return deps.board.pending(job.trial_id)

    def await_verdict(epoch: int) -> None:
        if job.request.await_verdicts:
            deps.board.wait_for_verdict(job.trial_id, epoch, deps.settings.verdict_timeout_seconds)

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(deps.settings.heartbeat_seconds)
            beat = TrialHeartbeatData(trainer_id=trainer_id, epoch=current_epoch)
            await deps.publish(event.follow_up(TrialHeartbeat, beat, source=SOURCE))

    log.info("trial %d started (attempt %d)", number, job.request.attempt)
    deps.metrics.trial_started(job.study_id, number, job.request.max_epochs)
    beating = asyncio.create_task(heartbeat(), name=f"heartbeat-{job.trial_id}")
    deps.activity.begin()
    deps.running.add(job.trial_id)
    try:
        hooks = TrialHooks(
            started=started,
            epoch_completed=epoch_completed,
            control=control,
            await_verdict=await_verdict,
            judged=lambda: deps.board.judged(job.trial_id),
            data_loaded=data_loaded,
            layers_built=layers_built,
        )
        try:
            outcome = await asyncio.to_thread(deps.runner.run, job, hooks)
        except Exception as exc:  # a fault of this trainer, not of the trial's message: report, don't redeliver
            log.exception("trial %d: the trainer failed to run it", number)
            reason = f"trainer {trainer_id} could not run the trial: {type(exc).__name__}: {exc}"
            outcome = TrialOutcome(OutcomeKind.FAILED, current_epoch, reason=reason)
    finally:
        deps.running.discard(job.trial_id)
        deps.activity.end()
        deps.metrics.trial_ended()
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        last_word = deps.board.pending(job.trial_id)
        deps.board.forget(job.trial_id)
        await outbox.drain()
    if last_word is not None and last_word.action is ControlAction.SUPERSEDED and last_word.reason == HAND_BACK:
        log.warning("trial %d: handed back at epoch %d (the trainer is shutting down)", number, current_epoch)
        reason = f"trainer {trainer_id} shut down at epoch {current_epoch}; the trial was handed back to be run again"
        data = TrialFailedData(
            trainer_id=trainer_id, trial_number=number, reason=reason, epochs_trained=current_epoch, handed_back=True
        )
        await deps.publish(event.follow_up(TrialFailed, data, source=SOURCE))
        return
    if last_word is not None and last_word.action is ControlAction.SUPERSEDED:
        log.warning("trial %d: this attempt was superseded (%s); its result is not published", number, last_word.reason)
        return
    await _report(event, outcome, deps)


async def _report(request: TrialRequested, outcome: TrialOutcome, deps: TrainerDeps) -> None:
    trainer_id = deps.settings.trainer_id
    number = request.data.trial_number
    if outcome.kind is OutcomeKind.COMPLETED and outcome.metrics is not None:
        if outcome.model_key:
            stored = ArtifactStoredData(key=outcome.model_key, kind="model", size_bytes=outcome.model_size_bytes)
            await deps.publish(request.follow_up(ArtifactStored, stored, source=SOURCE))
        data = TrialCompletedData(
            trainer_id=trainer_id,
            trial_number=number,
            metrics=outcome.metrics,
            model_key=outcome.model_key,
            architecture=outcome.architecture,
            stopped_early=outcome.stopped_early,
        )
        log.info("trial %d completed: val_accuracy %.4f", number, outcome.metrics.val_accuracy)
        await deps.publish(request.follow_up(TrialCompleted, data, source=SOURCE))
    elif outcome.kind is OutcomeKind.PRUNED:
        pruned = TrialPrunedData(
            trainer_id=trainer_id,
            trial_number=number,
            epoch=outcome.epochs_trained,
            reason=outcome.reason,
            last_val_accuracy=outcome.last_val_accuracy,
        )
        log.info("trial %d pruned after epoch %d", number, outcome.epochs_trained)
        await deps.publish(request.follow_up(TrialPruned, pruned, source=SOURCE))
    else:
        failed = TrialFailedData(
            trainer_id=trainer_id, trial_number=number, reason=outcome.reason, epochs_trained=outcome.epochs_trained
        )
        log.warning("trial %d failed: %s", number, outcome.reason)
        await deps.publish(request.follow_up(TrialFailed, failed, source=SOURCE))
