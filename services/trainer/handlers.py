"""The trainer's event handlers: run each requested trial in a worker thread and report it.

While a trial runs the event loop stays free: it sends heartbeats, receives ``trial.control`` into
the ``ControlBoard``, and publishes what the training thread hands it, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from contracts.events import (
    ArtifactStored,
    ArtifactStoredData,
    Event,
    EventEnvelope,
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
from services.runtime.bus.port import Bus
from services.trainer.control import ControlBoard, ControlRequest
from services.trainer.outbox import Outbox
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome, TrialRunner
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
SOURCE = "trainer"
E = TypeVar("E", bound=EventEnvelope)


class TrainerWorker:
    def __init__(self, bus: Bus, runner: TrialRunner, settings: TrainerSettings) -> None:
        self._bus = bus
        self._runner = runner
        self._settings = settings
        self.board = ControlBoard()

    async def on_control(self, event: Event) -> None:
        if isinstance(event, TrialControl) and event.trial_id:
            self.board.request(event.trial_id, event.data.action, event.data.reason)

    async def on_request(self, event: Event) -> None:
        if not isinstance(event, TrialRequested) or event.trial_id is None:
            return
        job = TrialJob(study_id=event.study_id, trial_id=event.trial_id, request=event.data)
        cancelled = self.board.pending(job.trial_id)
        if cancelled is not None:  # stopped while it waited in the work queue: say so, or the study waits on it
            log.info("trial %d was cancelled before it started", job.request.trial_number)
            self.board.forget(job.trial_id)
            reason = f"cancelled before it started: {cancelled.reason}"
            data = TrialFailedData(
                trainer_id=self._settings.trainer_id, trial_number=job.request.trial_number, reason=reason
            )
            await self._bus.publish(TrialFailed(source=SOURCE, study_id=job.study_id, trial_id=job.trial_id, data=data))
            return
        outbox = Outbox(self._bus.publish)
        current_epoch = 0
        trainer_id = self._settings.trainer_id
        number = job.request.trial_number

        def envelope(cls: Callable[..., E], data: object) -> E:
            return cls(source=SOURCE, study_id=job.study_id, trial_id=job.trial_id, data=data)

        def started(architecture: str, parameter_count: int) -> None:
            data = TrialStartedData(
                trainer_id=trainer_id,
                trial_number=number,
                attempt=job.request.attempt,
                architecture=architecture,
                parameter_count=parameter_count,
            )
            outbox.put_threadsafe(envelope(TrialStarted, data))

        def epoch_completed(telemetry: EpochTelemetry) -> None:
            nonlocal current_epoch
            current_epoch = telemetry.epoch
            data = TrialEpochCompletedData(
                trainer_id=trainer_id, trial_number=number, max_epochs=job.request.max_epochs, telemetry=telemetry
            )
            outbox.put_threadsafe(envelope(TrialEpochCompleted, data))

        def control() -> ControlRequest | None:
            return self.board.pending(job.trial_id)

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(self._settings.heartbeat_seconds)
                await self._bus.publish(
                    envelope(TrialHeartbeat, TrialHeartbeatData(trainer_id=trainer_id, epoch=current_epoch))
                )

        log.info("trial %d started (attempt %d)", number, job.request.attempt)
        beating = asyncio.create_task(heartbeat(), name=f"heartbeat-{job.trial_id}")
        try:
            hooks = TrialHooks(started=started, epoch_completed=epoch_completed, control=control)
            try:
                outcome = await asyncio.to_thread(self._runner.run, job, hooks)
            except Exception as exc:  # a fault of this trainer, not of the trial's message: report, don't redeliver
                log.exception("trial %d: the trainer failed to run it", number)
                reason = f"trainer {trainer_id} could not run the trial: {type(exc).__name__}: {exc}"
                outcome = TrialOutcome(OutcomeKind.FAILED, current_epoch, reason=reason)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            self.board.forget(job.trial_id)
            await outbox.drain()
        await self._report(job, outcome, envelope)

    async def _report(self, job: TrialJob, outcome: TrialOutcome, envelope: Any) -> None:
        trainer_id = self._settings.trainer_id
        number = job.request.trial_number
        if outcome.kind is OutcomeKind.COMPLETED and outcome.metrics is not None:
            if outcome.model_key:
                stored = ArtifactStoredData(key=outcome.model_key, kind="model", size_bytes=outcome.model_size_bytes)
                await self._bus.publish(envelope(ArtifactStored, stored))
            data = TrialCompletedData(
                trainer_id=trainer_id,
                trial_number=number,
                metrics=outcome.metrics,
                model_key=outcome.model_key,
                architecture=outcome.architecture,
                stopped_early=outcome.stopped_early,
            )
            log.info("trial %d completed: val_accuracy %.4f", number, outcome.metrics.val_accuracy)
            await self._bus.publish(envelope(TrialCompleted, data))
        elif outcome.kind is OutcomeKind.PRUNED:
            pruned = TrialPrunedData(
                trainer_id=trainer_id,
                trial_number=number,
                epoch=outcome.epochs_trained,
                reason=outcome.reason,
                last_val_accuracy=outcome.last_val_accuracy,
            )
            log.info("trial %d pruned after epoch %d", number, outcome.epochs_trained)
            await self._bus.publish(envelope(TrialPruned, pruned))
        else:
            failed = TrialFailedData(
                trainer_id=trainer_id, trial_number=number, reason=outcome.reason, epochs_trained=outcome.epochs_trained
            )
            log.warning("trial %d failed: %s", number, outcome.reason)
            await self._bus.publish(envelope(TrialFailed, failed))
