"""The scheduler's event handlers: load the study, ask its ``StudyRun`` what to do, tell Optuna, publish.

The decisions themselves (how many trials to request, whether the study is done, what a lost trial
becomes) are in ``study_state.py``; the Optuna side is ``study_runner.py``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from contracts.enums import HEALTH_MODES, ControlAction, PrunerName, StudyState
from contracts.events import (
    EventEnvelope,
    StudyCompleted,
    StudyCompletedData,
    StudyCreated,
    StudyResumed,
    StudyResumedData,
    StudyResumeRequested,
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
from services.runtime.bus.port import Publish
from services.runtime.errors import FatalError, StaleEvent
from services.runtime.handlers import HandlerTable
from services.runtime.observability.studies import StudyMetrics
from services.scheduler.health_pruning import EpochSignals, health_verdict
from services.scheduler.leases import LeaseTable
from services.scheduler.registry import ActiveStudy, StudyRegistry
from services.scheduler.settings import SchedulerSettings
from services.scheduler.study_runner import StudyRunner
from services.scheduler.study_state import SchedulingPolicy, StudyRun, TrialEnd, TrialInFlight

log = logging.getLogger(__name__)
SOURCE = "scheduler"
RESUMABLE_STATES = frozenset({StudyState.STOPPED.value, StudyState.RUNNING.value})
"""Stopped by a user, or still marked running because the process that ran it died."""

Study = ActiveStudy[StudyRunner]


@dataclass
class SchedulerDeps:
    publish: Publish
    settings: SchedulerSettings
    leases: LeaseTable
    studies: StudyRegistry[StudyRunner] = field(default_factory=StudyRegistry)
    metrics: StudyMetrics = field(default_factory=StudyMetrics)

    @property
    def policy(self) -> SchedulingPolicy:
        return SchedulingPolicy(queue_ahead=self.settings.queue_ahead, max_trial_factor=self.settings.max_trial_factor)


handlers: HandlerTable[SchedulerDeps] = HandlerTable("scheduler")


# ---- study lifecycle ------------------------------------------------------------------------


@handlers.on(StudyCreated)
async def on_study_created(event: StudyCreated, deps: SchedulerDeps) -> None:
    if deps.studies.knows(event.study_id):
        return
    config = event.data.config
    runner = await asyncio.to_thread(
        StudyRunner,
        event.study_id,
        config,
        deps.settings.storage_url,
        display_name=event.data.study_name,
        sampler_history=deps.settings.sampler_history,
    )
    if runner.ended:
        log.info("study %s already ended; repeated study.created ignored", event.study_id)
        deps.studies.evict(event.study_id)
        return
    run = StudyRun(event.study_id, event.data.study_name, config, deps.policy)
    study = deps.studies.add(run, runner)
    _watch(study, deps)
    log.info("study %s created: %s", event.data.study_name, config.model_dump(exclude_defaults=True))
    await _advance(study, deps)


@handlers.on(StudyStopRequested)
async def on_stop_requested(event: StudyStopRequested, deps: SchedulerDeps) -> None:
    study = deps.studies.get(event.study_id)
    if study is None or study.run.done:
        return
    for trial in study.run.request_stop(event.data.reason):
        await _control(study.run, trial, ControlAction.STOP, event.data.reason, deps)
    await _advance(study, deps)


@handlers.on(StudyResumeRequested)
async def on_resume_requested(event: StudyResumeRequested, deps: SchedulerDeps) -> None:
    """Take a stopped (or interrupted) study up again: its finished trials count, only the rest run."""
    if deps.studies.get(event.study_id) is not None:
        return  # running here already
    storage = deps.settings.storage_url
    found = await asyncio.to_thread(StudyRunner.stored, storage, event.study_id)
    if found is None:
        log.warning("resume of study %s ignored: storage has no such study", event.study_id)
        return
    name, config, state = found
    if state not in RESUMABLE_STATES:
        log.warning("resume of study %s ignored: it is %s", name, state)
        return
    runner = await asyncio.to_thread(
        StudyRunner, event.study_id, config, storage, display_name=name, sampler_history=deps.settings.sampler_history
    )
    await asyncio.to_thread(runner.reopen)
    run = StudyRun(event.study_id, name, config, deps.policy)
    for number in run.resume(await asyncio.to_thread(runner.stored_trials)):
        await asyncio.to_thread(runner.tell_failed, number, "lost when the study was interrupted")
    study = deps.studies.add(run, runner)
    _watch(study, deps)
    for trial_id in run.in_flight:
        deps.leases.renew(trial_id)
    data = StudyResumedData(
        completed_trials=run.completed,
        pruned_trials=run.pruned,
        failed_trials=run.failed,
        remaining_trials=max(0, config.trials - run.counted),
    )
    log.info("study %s resumed: %d of %d trials finished", name, run.counted, config.trials)
    await deps.publish(event.follow_up(StudyResumed, data, source=SOURCE))
    await _advance(study, deps)


# ---- trial progress -------------------------------------------------------------------------


@handlers.on(TrialStarted)
async def on_trial_started(event: TrialStarted, deps: SchedulerDeps) -> None:
    study, trial = _lookup(event, deps)
    if trial is None:
        await _supersede(event, deps)
        return
    assert study is not None
    if not trial.started:
        deps.metrics.trial(study.run.study_id, "started")
    trial.started = True
    deps.leases.renew(trial.trial_id)
    if study.run.stopping:
        await _control(study.run, trial, ControlAction.STOP, study.run.stop_reason, deps)


@handlers.on(TrialHeartbeat)
async def on_heartbeat(event: TrialHeartbeat, deps: SchedulerDeps) -> None:
    _, trial = _lookup(event, deps)
    if trial is None:
        await _supersede(event, deps)
        return
    deps.leases.renew(trial.trial_id)


@handlers.on(TrialEpochCompleted)
async def on_epoch_completed(event: TrialEpochCompleted, deps: SchedulerDeps) -> None:
    study, trial = _lookup(event, deps)
    if study is None or trial is None:
        await _supersede(event, deps)
        return
    deps.leases.renew(trial.trial_id)
    value = event.data.telemetry.val_accuracy
    epoch = event.data.telemetry.epoch
    pruner = study.run.config.pruner
    if pruner.uses_health:
        trial.signals.append(EpochSignals.of(event.data.telemetry))
    if trial.prune_sent or epoch >= event.data.max_epochs:
        return
    should_prune = value is not None and await asyncio.to_thread(study.runner.report, trial.number, epoch, value)
    verdict = health_verdict(trial.signals) if pruner.uses_health else None
    if should_prune or verdict is not None:
        trial.prune_sent = True
        reason = verdict or f"val_accuracy {value:.4f} at epoch {epoch} is below the pruner's threshold"
        await _control(study.run, trial, ControlAction.PRUNE, reason, deps, epoch=epoch)
    elif study.run.config.pruner is not PrunerName.NONE:
        await _control(study.run, trial, ControlAction.CONTINUE, "", deps, epoch=epoch)  # the trainer waits for it


@handlers.on(TrialCompleted)
async def on_trial_completed(event: TrialCompleted, deps: SchedulerDeps) -> None:
    study, trial = _lookup(event, deps)
    if study is None or trial is None:
        _stale(event, deps)
        return
    trial.metrics = event.data.metrics
    deps.leases.release(trial.trial_id)
    await _finish_if_scored(study, trial, deps)


@handlers.on(TrialHealthAssessed)
async def on_health_assessed(event: TrialHealthAssessed, deps: SchedulerDeps) -> None:
    if not event.data.final:
        return
    study, trial = _lookup(event, deps)
    if study is None or trial is None:
        return
    trial.final_health = event.data.assessment
    await _finish_if_scored(study, trial, deps)


@handlers.on(TrialPruned)
async def on_trial_pruned(event: TrialPruned, deps: SchedulerDeps) -> None:
    study, trial = _lookup(event, deps)
    if study is None or trial is None:
        _stale(event, deps)
        return
    attrs = {"trial_id": trial.trial_id, "pruned_at_epoch": event.data.epoch}
    await asyncio.to_thread(study.runner.tell_pruned, trial.number, attrs)
    deps.metrics.trial(study.run.study_id, "pruned")
    await _close(study, trial, TrialEnd.PRUNED, deps)


@handlers.on(TrialFailed)
async def on_trial_failed(event: TrialFailed, deps: SchedulerDeps) -> None:
    study, trial = _lookup(event, deps)
    if study is None or trial is None:
        _stale(event, deps)
        return
    await asyncio.to_thread(study.runner.tell_failed, trial.number, event.data.reason)
    deps.metrics.trial(study.run.study_id, "failed")
    if not event.data.handed_back:
        await _close(study, trial, TrialEnd.FAILED, deps)
        return
    deps.leases.release(trial.trial_id)
    lost = study.run.hand_back(trial.trial_id, event.data.reason)
    log.info("trial %d of %s: %s", trial.number, study.run.study_name, event.data.reason)
    if lost is not None and lost.retry:
        await _request_trial(study, deps, retry=trial)
    await _advance(study, deps)


# ---- on start and on a timer ----------------------------------------------------------------


async def resume_studies(deps: SchedulerDeps) -> int:
    """Take up every study that storage says is still running (after a scheduler restart).

    Counters come from the trials' states (``StudyRun.resume``); trials still RUNNING go back in flight
    under their stored trial ids with a fresh lease. Returns how many studies are running afterwards.
    """
    storage = deps.settings.storage_url
    for study_id, name, config in await asyncio.to_thread(StudyRunner.unfinished, storage):
        if deps.studies.knows(study_id):
            continue
        runner = await asyncio.to_thread(
            StudyRunner, study_id, config, storage, display_name=name, sampler_history=deps.settings.sampler_history
        )
        run = StudyRun(study_id, name, config, deps.policy)
        lost = run.resume(await asyncio.to_thread(runner.stored_trials))
        for number in lost:
            await asyncio.to_thread(runner.tell_failed, number, "lost when the scheduler restarted")
        study = deps.studies.add(run, runner)
        _watch(study, deps)
        for trial_id in run.in_flight:
            deps.leases.renew(trial_id)
        log.info(
            "resumed study %s: %d completed, %d pruned, %d failed, %d in flight",
            name, run.completed, run.pruned, run.failed, len(run.in_flight),
        )  # fmt: skip
        await _advance(study, deps)
    return len(deps.studies.active())


async def expire_leases(deps: SchedulerDeps) -> None:
    """Fail every running trial whose trainer went silent, and retry it (bounded by max_retries)."""
    for trial_id in deps.leases.expired():
        deps.leases.release(trial_id)
        study = deps.studies.of_trial(trial_id)
        expiry = study.run.expire(trial_id, deps.settings.lease_seconds) if study is not None else None
        if study is None or expiry is None:
            continue
        trial, run = expiry.trial, study.run
        log.warning("trial %d of %s: %s", trial.number, run.study_name, expiry.reason)
        await asyncio.to_thread(study.runner.tell_failed, trial.number, expiry.reason)
        deps.metrics.trial(run.study_id, "failed")
        failed = TrialFailedData(trial_number=trial.number, reason=expiry.reason)
        await deps.publish(TrialFailed(source=SOURCE, study_id=run.study_id, trial_id=trial_id, data=failed))
        await _control(run, trial, ControlAction.SUPERSEDED, f"superseded: {expiry.reason}", deps)
        if expiry.retry:
            await _request_trial(study, deps, retry=trial)
        await _advance(study, deps)


# ---- internals ------------------------------------------------------------------------------


async def _finish_if_scored(study: Study, trial: TrialInFlight, deps: SchedulerDeps) -> None:
    config = study.run.config
    if trial.metrics is None or (config.mode in HEALTH_MODES and trial.final_health is None):
        return
    breakdown = blended_score(config.optimize_for, config.mode, config.health_weight, trial.metrics, trial.final_health)
    attrs = {"trial_id": trial.trial_id, "objective_score": breakdown.objective_score, "raw_value": breakdown.raw_value}
    if trial.final_health is not None:
        attrs["overall_health"] = trial.final_health.overall_health
    values: float | list[float] = breakdown.score
    if study.runner.multi_objective and breakdown.overall_health is not None:
        values = [breakdown.objective_score, breakdown.overall_health]
    await asyncio.to_thread(study.runner.tell_completed, trial.number, values, attrs)
    deps.metrics.trial_completed(study.run.study_id, breakdown.score, trial.metrics.training_seconds)
    await _close(study, trial, TrialEnd.COMPLETED, deps)


def _watch(study: Study, deps: SchedulerDeps) -> None:
    """The study's series exist from now on (best score so far included, for a resumed study)."""
    best = study.runner.best()
    score = study.runner.best_score(best) if best else None
    deps.metrics.study_started(study.run.study_id, study.run.study_name, score)


async def _close(study: Study, trial: TrialInFlight, end: TrialEnd, deps: SchedulerDeps) -> None:
    deps.leases.release(trial.trial_id)
    study.run.close(trial.trial_id, end)
    await _advance(study, deps)


async def _advance(study: Study, deps: SchedulerDeps) -> None:
    """Request what the run wants requested, then end the study if it is done."""
    for _ in range(study.run.trials_to_request()):
        await _request_trial(study, deps)
    await _maybe_complete(study, deps)


async def _request_trial(study: Study, deps: SchedulerDeps, retry: TrialInFlight | None = None) -> None:
    run = study.run
    trial_id, attempt = new_id(), retry.attempt + 1 if retry else 1
    asked = await asyncio.to_thread(
        study.runner.ask, retry.params if retry else None, trial_id=trial_id, attempt=attempt
    )
    trial = TrialInFlight(trial_id=trial_id, number=asked.number, params=asked.params, attempt=attempt)
    run.track(trial)
    deps.studies.index_trial(trial_id, run.study_id)
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
        await_verdicts=config.pruner is not PrunerName.NONE,
        on_bad_files=config.on_bad_files,
        text_column=config.text_column,
        label_column=config.label_column,
    )
    await deps.publish(TrialRequested(source=SOURCE, study_id=run.study_id, trial_id=trial_id, data=data))
    deps.metrics.trial(run.study_id, "requested")


async def _maybe_complete(study: Study, deps: SchedulerDeps) -> None:
    run, runner = study.run, study.runner
    end = run.completion()
    if end is None:
        return
    await asyncio.to_thread(runner.fail_orphans, set())
    await asyncio.to_thread(runner.mark_ended, end.state.value)
    best = await asyncio.to_thread(runner.best)
    data = StudyCompletedData(
        state=end.state,
        reason=end.reason,
        completed_trials=run.completed,
        pruned_trials=run.pruned,
        failed_trials=run.failed,
        best_trial_id=best.user_attrs.get("trial_id") if best else None,
        best_trial_number=best.number if best else None,
        best_score=runner.best_score(best) if best else None,
        best_params=dict(best.params) if best else {},
    )
    log.info(
        "study %s %s: %d completed, %d pruned, %d failed",
        run.study_name, end.state.value, run.completed, run.pruned, run.failed,
    )  # fmt: skip
    await deps.publish(StudyCompleted(source=SOURCE, study_id=run.study_id, data=data))
    deps.metrics.study_ended(run.study_id, end.state)
    deps.studies.evict(run.study_id)


async def _control(
    run: StudyRun,
    trial: TrialInFlight,
    action: ControlAction,
    reason: str,
    deps: SchedulerDeps,
    *,
    epoch: int | None = None,
) -> None:
    data = TrialControlData(action=action, reason=reason, epoch=epoch)
    await deps.publish(TrialControl(source=SOURCE, study_id=run.study_id, trial_id=trial.trial_id, data=data))


async def _supersede(event: EventEnvelope, deps: SchedulerDeps) -> None:
    """A sign of life from an attempt that is not in flight here (it was failed after its trainer went
    silent, or it ended already): tell its trainer to stop at once without a result, then drop the event."""
    if not deps.studies.knows(event.study_id):
        return  # a study this scheduler never ran (or forgot long ago)
    data = TrialControlData(action=ControlAction.SUPERSEDED, reason="this attempt is no longer current")
    await deps.publish(event.follow_up(TrialControl, data, source=SOURCE))
    _stale(event, deps)


def _stale(event: EventEnvelope, deps: SchedulerDeps) -> None:
    if event.source != SOURCE and deps.studies.knows(event.study_id):  # its own lease-expiry failures aside
        raise StaleEvent(f"{event.type} of trial {event.trial_id}, which is not in flight")


def _lookup(event: EventEnvelope, deps: SchedulerDeps) -> tuple[Study | None, TrialInFlight | None]:
    study = deps.studies.get(event.study_id)
    if study is None:
        log.debug("event %s for a study not running here (%s) ignored", event.type, event.study_id)
        return None, None
    if event.trial_id is None:
        raise FatalError(f"{event.type} without trial_id")
    return study, study.run.in_flight.get(event.trial_id)
