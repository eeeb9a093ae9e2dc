"""The bridge's handlers: each ``trial.requested`` from ``trainer.work`` becomes one job on the endpoint.

While the job runs the bridge is the trial's trainer: it sends heartbeats, relays what the job streams
(``trial.started``, each ``trial.epoch_completed``) and publishes exactly one ending:

- the job's result (completed, pruned or failed on the worker), with its GPU seconds and cost;
- ``trial.pruned`` when the scheduler pruned it (the job is cancelled; a result that still comes is
  not used), nothing when the attempt was superseded;
- ``trial.failed`` when the job ran past the execution timeout, or the trial cannot fit it (refused
  before it starts);
- nothing when the worker was lost (the job failed on the platform, vanished, stalled, or the endpoint
  stayed unreachable): heartbeats stop, the scheduler's lease runs out and it fails and retries the
  trial, as for any trainer that went silent.

The subscription's prefetch is the concurrency: never more jobs at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

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
from contracts.serverless import JOB_CHUNK, JobEpoch, JobResult, JobStarted, ServerlessJobInput
from services.runpod.costs import EpochTimeBudget, cost_usd
from services.runpod.endpoint import EndpointApi, EndpointUnavailable, JobLost, JobPoll
from services.runpod.settings import BridgeSettings
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Publish
from services.runtime.errors import FatalError
from services.runtime.handlers import HandlerTable

log = logging.getLogger(__name__)
SOURCE = "runpod-bridge"
TIMEOUT_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Stop:
    action: ControlAction
    reason: str


_RANK = {ControlAction.STOP: 1, ControlAction.PRUNE: 2, ControlAction.SUPERSEDED: 3}


@dataclass
class BridgeDeps:
    publish: Publish
    api: EndpointApi
    artifacts: ArtifactStore
    settings: BridgeSettings
    budget: EpochTimeBudget
    stops: dict[str, Stop] = field(default_factory=dict)
    running: dict[str, str] = field(default_factory=dict)
    """trial id -> job id of the jobs on the endpoint now."""
    gpu_seconds_total: float = 0.0
    cost_usd_total: float = 0.0


work_handlers: HandlerTable[BridgeDeps] = HandlerTable("trainer.work")
control_handlers: HandlerTable[BridgeDeps] = HandlerTable("trainer.control")


@control_handlers.on(TrialControl)
async def on_trial_control(event: TrialControl, deps: BridgeDeps) -> None:
    action = event.data.action
    if not event.trial_id or action is ControlAction.CONTINUE:
        return
    current = deps.stops.get(event.trial_id)
    if current is None or _RANK[action] > _RANK[current.action]:  # also for a trial still queued
        deps.stops[event.trial_id] = Stop(action, event.data.reason)


class WorkerLost(Exception):
    """The job's worker is gone; the trial is given up to the scheduler's lease."""


@dataclass
class _Relay:
    """What one job streamed so far."""

    event: TrialRequested
    deps: BridgeDeps
    epoch: int = 0
    last_val_accuracy: float | None = None
    result: JobResult | None = None
    started: bool = False
    last_progress: float = field(default_factory=time.monotonic)

    async def take(self, chunks: list[dict[str, Any]]) -> None:
        for raw in chunks:
            try:
                chunk = JOB_CHUNK.validate_python(raw)
            except ValidationError:
                log.warning("trial %d: the job streamed something that is not a chunk; ignored", self.number)
                continue
            self.last_progress = time.monotonic()
            if isinstance(chunk, JobStarted):
                if not self.started:  # a chunk streamed again (a repeated poll) is relayed once
                    self.started = True
                    await self._publish_started(chunk)
            elif isinstance(chunk, JobEpoch):
                await self._publish_epoch(chunk)
            else:
                self.result = chunk

    @property
    def number(self) -> int:
        return self.event.data.trial_number

    async def _publish_started(self, chunk: JobStarted) -> None:
        data = TrialStartedData(
            trainer_id=self.deps.settings.bridge_id,
            trial_number=self.number,
            attempt=self.event.data.attempt,
            architecture=chunk.architecture,
            parameter_count=chunk.parameter_count,
            data_notes=chunk.data_notes,
        )
        await self.deps.publish(self.event.follow_up(TrialStarted, data, source=SOURCE))

    async def _publish_epoch(self, chunk: JobEpoch) -> None:
        if chunk.telemetry.epoch <= self.epoch:
            return  # streamed again (a repeated poll): relayed once
        self.epoch = chunk.telemetry.epoch
        self.last_val_accuracy = chunk.telemetry.val_accuracy
        if chunk.telemetry.epoch_seconds:
            self.deps.budget.observe(chunk.telemetry.epoch_seconds)
        data = TrialEpochCompletedData(
            trainer_id=self.deps.settings.bridge_id,
            trial_number=self.number,
            max_epochs=self.event.data.max_epochs,
            telemetry=chunk.telemetry,
        )
        await self.deps.publish(self.event.follow_up(TrialEpochCompleted, data, source=SOURCE))


@work_handlers.on(TrialRequested)
async def on_trial_requested(event: TrialRequested, deps: BridgeDeps) -> None:
    if event.trial_id is None:
        return
    number = event.data.trial_number
    cancelled = deps.stops.pop(event.trial_id, None)
    if cancelled is not None:  # stopped while it waited in the work queue: say so, or the study waits on it
        if cancelled.action is not ControlAction.SUPERSEDED:
            await _fail(event, deps, f"cancelled before it started: {cancelled.reason}", 0)
        return
    refusal = deps.budget.refusal(event.data.max_epochs)
    if refusal is not None:
        log.warning("trial %d refused: %s", number, refusal)
        await _fail(event, deps, f"refused before it started: {refusal}", 0)
        return
    payload = ServerlessJobInput(study_id=event.study_id, trial_id=event.trial_id, request=event.data)
    relay = _Relay(event, deps)
    beating = asyncio.create_task(_heartbeats(event, relay, deps), name=f"heartbeat-{event.trial_id}")
    deps.running[event.trial_id] = ""
    try:
        poll = await _run_job(payload, relay, deps)
    except WorkerLost as exc:
        log.warning("trial %d: %s; its lease will run out and the scheduler retries it", number, exc)
        return
    except FatalError as exc:  # the endpoint refuses us (key, endpoint id): every trial would; say so at once
        poll, refused = JobPoll("FAILED"), str(exc)
    else:
        refused = ""
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        deps.running.pop(event.trial_id, None)
        stop = deps.stops.pop(event.trial_id, None)
    if refused:
        await _fail(event, deps, refused, relay.epoch)
        return
    await _conclude(event, relay, poll, stop, deps)


async def _run_job(payload: ServerlessJobInput, relay: _Relay, deps: BridgeDeps) -> JobPoll:
    settings = deps.settings
    trial_id = payload.trial_id
    timeout_ms = int(settings.execution_timeout_seconds * 1000)
    job_id = await _call(deps, "submit", lambda: deps.api.submit(payload.model_dump(mode="json"), timeout_ms))
    deps.running[trial_id] = job_id
    submitted = time.monotonic()
    cancelled = False
    log.info("trial %d: job %s on the endpoint", relay.number, job_id)
    while True:
        stop = deps.stops.get(trial_id)
        if stop is not None and not cancelled:
            cancelled = True
            await _cancel(deps, job_id, f"{stop.action.value}: {stop.reason}")
            if stop.action is ControlAction.SUPERSEDED or not deps.api.cancellable:
                return JobPoll("CANCELLED")
        try:
            poll = await _call(deps, "poll", lambda: deps.api.poll(job_id))
        except JobLost as exc:
            raise WorkerLost(f"job {job_id}: {exc}") from None
        await relay.take(poll.chunks)
        if poll.final:
            if poll.status == "FAILED" and relay.result is None:
                raise WorkerLost(f"job {job_id} failed on the platform: {poll.error or 'no error given'}")
            return poll
        now = time.monotonic()
        if now - submitted > settings.execution_timeout_seconds + TIMEOUT_GRACE_SECONDS:
            await _cancel(deps, job_id, "past the execution timeout")
            return JobPoll("TIMED_OUT")
        if now - relay.last_progress > settings.stall_seconds and poll.status == "IN_PROGRESS":
            await _cancel(deps, job_id, "no progress")
            raise WorkerLost(f"job {job_id} made no progress for {settings.stall_seconds:.0f} s")
        await _wait_or_stop(deps, trial_id, settings.poll_seconds)


async def _wait_or_stop(deps: BridgeDeps, trial_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and trial_id not in deps.stops:
        await asyncio.sleep(min(0.1, seconds))


async def _call(deps: BridgeDeps, what: str, call: Any) -> Any:
    """One API call in a thread, tried again while the endpoint is unavailable (up to ``outage_seconds``)."""
    started = time.monotonic()
    delay = 0.2
    while True:
        try:
            return await asyncio.to_thread(call)
        except EndpointUnavailable as exc:
            if time.monotonic() - started > deps.settings.outage_seconds:
                raise WorkerLost(
                    f"the endpoint stayed unavailable for {deps.settings.outage_seconds:.0f} s ({what}: {exc})"
                ) from None
            log.warning("endpoint unavailable (%s: %s); trying again in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _cancel(deps: BridgeDeps, job_id: str, why: str) -> None:
    if not deps.api.cancellable:
        log.info("job %s (%s): this endpoint cannot cancel; its result will not be used", job_id, why)
        return
    try:
        await _call(deps, "cancel", lambda: deps.api.cancel(job_id))
        log.info("job %s cancelled (%s)", job_id, why)
    except (WorkerLost, JobLost) as exc:
        log.warning("job %s could not be cancelled (%s): %s", job_id, why, exc)


async def _heartbeats(event: TrialRequested, relay: _Relay, deps: BridgeDeps) -> None:
    while True:
        await asyncio.sleep(deps.settings.heartbeat_seconds)
        beat = TrialHeartbeatData(trainer_id=deps.settings.bridge_id, epoch=relay.epoch)
        await deps.publish(event.follow_up(TrialHeartbeat, beat, source=SOURCE))


async def _conclude(event: TrialRequested, relay: _Relay, poll: JobPoll, stop: Stop | None, deps: BridgeDeps) -> None:
    number = event.data.trial_number
    result = relay.result
    if stop is not None and stop.action is ControlAction.SUPERSEDED:
        log.warning("trial %d: this attempt was superseded (%s); its result is not published", number, stop.reason)
        return
    if stop is not None and stop.action is ControlAction.PRUNE:
        data = TrialPrunedData(
            trainer_id=deps.settings.bridge_id,
            trial_number=number,
            epoch=relay.epoch,
            reason=stop.reason,
            last_val_accuracy=relay.last_val_accuracy,
        )
        await deps.publish(event.follow_up(TrialPruned, data, source=SOURCE))
        return
    if poll.status == "TIMED_OUT":
        timeout = deps.settings.execution_timeout_seconds
        reason = (
            f"the job ran past the endpoint's execution timeout ({timeout:.0f} s) after {relay.epoch} epochs; "
            "lower max_epochs or raise the execution timeout"
        )
        await _fail(event, deps, reason, relay.epoch)
        return
    if result is None:
        why = f"stopped: {stop.reason}" if stop is not None else f"the job ended {poll.status} without a result"
        await _fail(event, deps, why, relay.epoch)
        return
    await _publish_result(event, result, poll, deps)


async def _publish_result(event: TrialRequested, result: JobResult, poll: JobPoll, deps: BridgeDeps) -> None:
    number = event.data.trial_number
    bridge_id = deps.settings.bridge_id
    if result.outcome == "pruned":
        pruned = TrialPrunedData(
            trainer_id=bridge_id,
            trial_number=number,
            epoch=result.epochs_trained,
            reason=result.reason,
            last_val_accuracy=result.last_val_accuracy,
        )
        await deps.publish(event.follow_up(TrialPruned, pruned, source=SOURCE))
        return
    if result.outcome == "failed" or result.metrics is None:
        await _fail(event, deps, result.reason or "the worker reported no metrics", result.epochs_trained)
        return
    gpu_seconds = poll.execution_ms / 1000 if poll.execution_ms is not None else result.worker_seconds
    cost = cost_usd(gpu_seconds, deps.settings.gpu_price_per_hour)
    deps.gpu_seconds_total += gpu_seconds
    deps.cost_usd_total += cost
    metrics = result.metrics.model_copy(update={"gpu_seconds": gpu_seconds, "cost_usd": cost})
    if result.model_key:
        size = result.model_size_bytes
        if result.model_base64 is not None:
            model = base64.b64decode(result.model_base64)
            size = await asyncio.to_thread(deps.artifacts.put_bytes, result.model_key, model)
        stored = ArtifactStoredData(key=result.model_key, kind="model", size_bytes=size)
        await deps.publish(event.follow_up(ArtifactStored, stored, source=SOURCE))
    data = TrialCompletedData(
        trainer_id=bridge_id,
        trial_number=number,
        metrics=metrics,
        model_key=result.model_key,
        architecture=result.architecture,
        stopped_early=result.stopped_early,
    )
    log.info(
        "trial %d completed on the endpoint: val_accuracy %.4f, %.1f GPU s, $%.4f",
        number,
        metrics.val_accuracy,
        gpu_seconds,
        cost,
    )
    await deps.publish(event.follow_up(TrialCompleted, data, source=SOURCE))


async def _fail(event: TrialRequested, deps: BridgeDeps, reason: str, epochs: int) -> None:
    data = TrialFailedData(
        trainer_id=deps.settings.bridge_id,
        trial_number=event.data.trial_number,
        reason=reason[:2000],
        epochs_trained=epochs,
    )
    await deps.publish(event.follow_up(TrialFailed, data, source=SOURCE))
