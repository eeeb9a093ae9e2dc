"""The scheduler's event handlers: one small async function per event type, sharing ``SchedulerDeps``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from optuna.trial import TrialState as OptunaState

from contracts.enums import ControlAction, Mode, StudyState
from contracts.events import (
    Event,
    EventEnvelope,
    StudyCompleted,
    StudyCompletedData,
    StudyCreated,
    StudyStopRequested,
    TrialCompleted,
    TrialControl,
    TrialControlData,
    TrialEpochCompleted,
    TrialFailed,
    TrialFailedData,
    TrialHealthAssessed,
    TrialHeartbeat,
    TrialPruned,
    TrialRequested,
    TrialRequestedData,
    TrialStarted,
    new_id,
)
from contracts.scoring import blended_score
from services.runtime.errors import FatalError
from services.scheduler.leases import LeaseTable
from services.scheduler.settings import SchedulerSettings
from services.scheduler.study_runner import StudyRunner
from services.scheduler.study_state import StudyRun, TrialInFlight

log = logging.getLogger(__name__)
SOURCE = "scheduler"

Publish = Callable[[EventEnvelope], Awaitable[None]]


@dataclass
class SchedulerDeps:
    publish: Publish
    settings: SchedulerSettings
    leases: LeaseTable
    studies: dict[str, StudyRun] = field(default_factory=dict)
    trial_index: dict[str, str] = field(default_factory=dict)  # trial_id -> study_id


# ---- study lifecycle ------------------------------------------------------------------------


async def on_study_created(event: StudyCreated, deps: SchedulerDeps) -> None:
    if event.study_id in deps.studies:
        return
    config = event.data.config
    runner = await asyncio.to_thread(
        StudyRunner, event.study_id, config, deps.settings.optuna_storage, display_name=event.data.study_name
    )
    run = StudyRun(study_id=event.study_id, study_name=event.data.study_name, config=config, runner=runner)
    deps.studies[event.study_id] = run
    log.info("study %s created: %s", event.data.study_name, config.model_dump(exclude_defaults=True))
    await _fill_slots(run, deps)


async def on_stop_requested(event: StudyStopRequested, deps: SchedulerDeps) -> None:
    run = deps.studies.get(event.study_id)
    if run is None or run.done:
        return
    run.stopping = True
    run.stop_reason = event.data.reason
    for trial in list(run.in_flight.values()):
        await _control(run, trial, ControlAction.STOP, event.data.reason, deps)
    await _maybe_complete(run, deps)


# ---- trial progress -------------------------------------------------------------------------


async def on_trial_started(event: TrialStarted, deps: SchedulerDeps) -> None:
    run, trial = _lookup(event, deps)
    if run is None:
        return
    if trial is None:
        # A redelivered request for a trial we already gave up on: tell that trainer to stop.
        await deps.publish(
            _envelope(TrialControl, event, TrialControlData(action=ControlAction.STOP, reason="trial already finished"))
        )
        return
    trial.started = True
    deps.leases.renew(trial.trial_id)
    if run.stopping:
        await _control(run, trial, ControlAction.STOP, run.stop_reason, deps)


async def on_heartbeat(event: TrialHeartbeat, deps: SchedulerDeps) -> None:
    _, trial = _lookup(event, deps)
    if trial is not None:
        deps.leases.renew(trial.trial_id)


async def on_epoch_completed(event: TrialEpochCompleted, deps: SchedulerDeps) -> None:
    run, trial = _lookup(event, deps)
    if run is None or trial is None:
        return
    deps.leases.renew(trial.trial_id)
    value = event.data.telemetry.val_accuracy
    if value is None or trial.prune_sent:
        return
    should_prune = await asyncio.to_thread(run.runner.report, trial.number, event.data.telemetry.epoch, value)
    if should_prune and event.data.telemetry.epoch < event.data.max_epochs:
        trial.prune_sent = True
        reason = f"val_accuracy {value:.4f} at epoch {event.data.telemetry.epoch} is below the pruner's threshold"
        await _control(run, trial, ControlAction.PRUNE, reason, deps)


async def on_trial_completed(event: TrialCompleted, deps: SchedulerDeps) -> None:
    run, trial = _lookup(event, deps)
    if run is None or trial is None:
        return
    trial.metrics = event.data.metrics
    deps.leases.release(trial.trial_id)
    await _finish_if_scored(run, trial, deps)


async def on_health_assessed(event: TrialHealthAssessed, deps: SchedulerDeps) -> None:
    if not event.data.final:
        return
    run, trial = _lookup(event, deps)
    if run is None or trial is None:
        return
    trial.final_health = event.data.assessment
    await _finish_if_scored(run, trial, deps)


async def on_trial_pruned(event: TrialPruned, deps: SchedulerDeps) -> None:
    run, trial = _lookup(event, deps)
    if run is None or trial is None:
        return
    await asyncio.to_thread(
        run.runner.tell_pruned, trial.number, {"trial_id": trial.trial_id, "pruned_at_epoch": event.data.epoch}
    )
    run.pruned += 1
    await _close_trial(run, trial, deps)


async def on_trial_failed(event: TrialFailed, deps: SchedulerDeps) -> None:
    run, trial = _lookup(event, deps)
    if run is None or trial is None:
        return
    await asyncio.to_thread(run.runner.tell_failed, trial.number, event.data.reason)
    run.failed += 1
    await _close_trial(run, trial, deps)


async def resume_studies(deps: SchedulerDeps) -> int:
    """Take up every study that storage says is still running (after a scheduler restart).

    Counters come from the trials' states; trials still RUNNING go back in flight under their stored
    trial ids with a fresh lease: their trainer's events continue them, or the lease expires and
    they are retried. Returns how many studies were resumed.
    """
    storage = deps.settings.optuna_storage
    for study_id, name, config in await asyncio.to_thread(StudyRunner.unfinished, storage):
        if study_id in deps.studies:
            continue
        runner = await asyncio.to_thread(StudyRunner, study_id, config, storage, display_name=name)
        run = StudyRun(study_id=study_id, study_name=name, config=config, runner=runner)
        for frozen in await asyncio.to_thread(runner.trials):
            run.asked += 1
            if frozen.state is OptunaState.COMPLETE:
                run.completed += 1
            elif frozen.state is OptunaState.PRUNED:
                run.pruned += 1
            elif frozen.state is OptunaState.FAIL:
                run.failed += 1
            elif frozen.state is OptunaState.RUNNING and "trial_id" in frozen.user_attrs:
                trial_id = str(frozen.user_attrs["trial_id"])
                attempt = int(frozen.user_attrs.get("attempt", 1))
                run.in_flight[trial_id] = TrialInFlight(trial_id, frozen.number, dict(frozen.params), attempt, True)
                deps.trial_index[trial_id] = study_id
                deps.leases.renew(trial_id)
            elif frozen.state is OptunaState.RUNNING:
                await asyncio.to_thread(runner.tell_failed, frozen.number, "lost when the scheduler restarted")
                run.failed += 1
        deps.studies[study_id] = run
        log.warning(
            "resumed study %s: %d completed, %d pruned, %d failed, %d in flight",
            name, run.completed, run.pruned, run.failed, len(run.in_flight),
        )  # fmt: skip
        await _fill_slots(run, deps)
        await _maybe_complete(run, deps)
    return len(deps.studies)


async def expire_leases(deps: SchedulerDeps) -> None:
    """Fail every running trial whose trainer went silent, and retry it (bounded by max_retries)."""
    for trial_id in deps.leases.expired():
        deps.leases.release(trial_id)
        study_id = deps.trial_index.get(trial_id)
        run = deps.studies.get(study_id) if study_id else None
        trial = run.in_flight.get(trial_id) if run else None
        if run is None or trial is None:
            continue
        reason = f"trainer went silent for {deps.settings.lease_seconds:.0f}s (attempt {trial.attempt})"
        log.warning("trial %d of %s: %s", trial.number, run.study_name, reason)
        await asyncio.to_thread(run.runner.tell_failed, trial.number, reason)
        await deps.publish(
            TrialFailed(
                source=SOURCE,
                study_id=run.study_id,
                trial_id=trial_id,
                data=TrialFailedData(trial_number=trial.number, reason=reason),
            )
        )
        await _control(run, trial, ControlAction.STOP, "lease expired", deps)
        run.failed += 1
        del run.in_flight[trial_id]
        run.finished.add(trial_id)
        if trial.attempt <= run.config.max_retries and not run.stopping:
            await _request_trial(run, deps, retry=trial)
        await _fill_slots(run, deps)
        await _maybe_complete(run, deps)


# ---- internals ------------------------------------------------------------------------------


async def _finish_if_scored(run: StudyRun, trial: TrialInFlight, deps: SchedulerDeps) -> None:
    if trial.metrics is None:
        return
    if run.config.mode is Mode.HEALTH and trial.final_health is None:
        return
    breakdown = blended_score(
        run.config.optimize_for, run.config.mode, run.config.health_weight, trial.metrics, trial.final_health
    )
    attrs = {"trial_id": trial.trial_id, "objective_score": breakdown.objective_score, "raw_value": breakdown.raw_value}
    if trial.final_health is not None:
        attrs["overall_health"] = trial.final_health.overall_health
    await asyncio.to_thread(run.runner.tell_completed, trial.number, breakdown.score, attrs)
    run.completed += 1
    await _close_trial(run, trial, deps)


async def _close_trial(run: StudyRun, trial: TrialInFlight, deps: SchedulerDeps) -> None:
    deps.leases.release(trial.trial_id)
    run.in_flight.pop(trial.trial_id, None)
    run.finished.add(trial.trial_id)
    await _fill_slots(run, deps)
    await _maybe_complete(run, deps)


async def _fill_slots(run: StudyRun, deps: SchedulerDeps) -> None:
    config = run.config
    max_attempts = config.trials * deps.settings.max_trial_factor
    requested_at_most = config.parallelism + int(config.parallelism * deps.settings.queue_ahead)
    while (
        not run.stopping
        and not run.done
        and len(run.in_flight) < requested_at_most
        and run.counted + len(run.in_flight) < config.trials
        and run.asked < max_attempts
    ):
        await _request_trial(run, deps)


async def _request_trial(run: StudyRun, deps: SchedulerDeps, retry: TrialInFlight | None = None) -> None:
    trial_id, attempt = new_id(), retry.attempt + 1 if retry else 1
    asked = await asyncio.to_thread(run.runner.ask, retry.params if retry else None, trial_id=trial_id, attempt=attempt)
    trial = TrialInFlight(trial_id=trial_id, number=asked.number, params=asked.params, attempt=attempt)
    run.in_flight[trial.trial_id] = trial
    run.asked += 1
    deps.trial_index[trial.trial_id] = run.study_id
    config = run.config
    data = TrialRequestedData(
        trial_number=trial.number,
        attempt=trial.attempt,
        params=trial.params,
        dataset=config.dataset,
        data_dir=config.data_dir,
        max_samples=config.max_samples,
        max_epochs=config.max_epochs,
        seed=None if config.seed is None else config.seed + trial.number,
        objective=config.optimize_for,
        mode=config.mode,
        retry_of=retry.trial_id if retry else None,
    )
    await deps.publish(TrialRequested(source=SOURCE, study_id=run.study_id, trial_id=trial.trial_id, data=data))


async def _maybe_complete(run: StudyRun, deps: SchedulerDeps) -> None:
    if run.done or run.in_flight:
        return
    max_attempts = run.config.trials * deps.settings.max_trial_factor
    if run.stopping:
        state, reason = StudyState.STOPPED, run.stop_reason
    elif run.counted >= run.config.trials:
        state, reason = StudyState.COMPLETED, ""
    elif run.asked >= max_attempts:
        state, reason = StudyState.FAILED, f"{run.failed} of {run.asked} trials failed; giving up"
    else:
        return
    run.done = True
    await asyncio.to_thread(run.runner.fail_orphans, set())
    await asyncio.to_thread(run.runner.mark_ended, state.value)
    best = await asyncio.to_thread(run.runner.best)
    data = StudyCompletedData(
        state=state,
        reason=reason,
        completed_trials=run.completed,
        pruned_trials=run.pruned,
        failed_trials=run.failed,
        best_trial_id=best.user_attrs.get("trial_id") if best else None,
        best_trial_number=best.number if best else None,
        best_score=best.value if best else None,
        best_params=dict(best.params) if best else {},
    )
    log.info(
        "study %s %s: %d completed, %d pruned, %d failed",
        run.study_name,
        state.value,
        run.completed,
        run.pruned,
        run.failed,
    )
    await deps.publish(StudyCompleted(source=SOURCE, study_id=run.study_id, data=data))


async def _control(
    run: StudyRun, trial: TrialInFlight, action: ControlAction, reason: str, deps: SchedulerDeps
) -> None:
    await deps.publish(
        TrialControl(
            source=SOURCE,
            study_id=run.study_id,
            trial_id=trial.trial_id,
            data=TrialControlData(action=action, reason=reason),
        )
    )


def _lookup(event: Event, deps: SchedulerDeps) -> tuple[StudyRun | None, TrialInFlight | None]:
    run = deps.studies.get(event.study_id)
    if run is None:
        log.debug("event %s for unknown study %s ignored", event.type, event.study_id)
        return None, None
    if event.trial_id is None:
        raise FatalError(f"{event.type} without trial_id")
    return run, run.in_flight.get(event.trial_id)


def _envelope(cls: type[TrialControl], cause: EventEnvelope, data: TrialControlData) -> TrialControl:
    return cls(
        source=SOURCE, study_id=cause.study_id, trial_id=cause.trial_id, correlation_id=cause.correlation_id, data=data
    )


HANDLERS: dict[str, Callable[[Event, SchedulerDeps], Awaitable[None]]] = {
    "study.created": on_study_created,  # type: ignore[dict-item]
    "study.stop_requested": on_stop_requested,  # type: ignore[dict-item]
    "trial.started": on_trial_started,  # type: ignore[dict-item]
    "trial.heartbeat": on_heartbeat,  # type: ignore[dict-item]
    "trial.epoch_completed": on_epoch_completed,  # type: ignore[dict-item]
    "trial.completed": on_trial_completed,  # type: ignore[dict-item]
    "trial.health_assessed": on_health_assessed,  # type: ignore[dict-item]
    "trial.pruned": on_trial_pruned,  # type: ignore[dict-item]
    "trial.failed": on_trial_failed,  # type: ignore[dict-item]
}
