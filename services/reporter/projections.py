"""Projections: one small async handler per event type, keeping the read models current.

Each handler applies its writes through ``GroupCommit.run_once`` (``group_commit``): the writes and
the event id land in one transaction (with whatever other events are waiting), so a redelivered event
changes nothing. Trial states only move
forward (requested -> running -> completed | pruned | failed), whatever order events arrive in.
``study.completed`` also builds the results and announces them (``artifact.stored``,
``report.ready``); its event id is recorded only after the bundle is out, so a crash half-way
rebuilds it on redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.enums import TrialState
from contracts.events import (
    ArtifactStored,
    ArtifactStoredData,
    EventEnvelope,
    ReportReady,
    ReportReadyData,
    StudyCompleted,
    StudyCreated,
    StudyResumed,
    TrialCompleted,
    TrialEpochCompleted,
    TrialFailed,
    TrialHealthAlert,
    TrialHealthAssessed,
    TrialPruned,
    TrialRequested,
    TrialStarted,
)
from services.reporter.build import BuiltResults, build_results
from services.reporter.group_commit import GroupCommit
from services.reporter.plots.ahead import TrialPlotsAhead
from services.reporter.results.importance import import_ahead
from services.reporter.scoring import ScoringRule, is_health_final, score_trial
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Publish
from services.runtime.db.records import TrialRecord
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.rows import utc
from services.runtime.errors import FatalError, RetryableError, StaleEvent
from services.runtime.fencing import is_stale
from services.runtime.handlers import HandlerTable

log = logging.getLogger(__name__)

CONSUMER = "reporter"
SOURCE = "reporter"

_STATE_RANK = {
    TrialState.REQUESTED: 0,
    TrialState.RUNNING: 1,
    TrialState.COMPLETED: 2,
    TrialState.PRUNED: 2,
    TrialState.FAILED: 2,
}

_SCORING_RULES_KEPT = 1024

Apply = Callable[[ReadModelRepository], None]
TrialApply = Callable[[ReadModelRepository, TrialRecord | None], None]
"""A trial event's writes, given the trial as the read model holds it (None: not seen yet)."""


@dataclass(frozen=True)
class ReporterDeps:
    """What the handlers need; built once by ``bootstrap.start``."""

    publish: Publish
    repository: ReadModelRepository
    artifacts: ArtifactStore
    settings: ReporterSettings
    writer: GroupCommit = field(init=False)
    """Every projection's writes go through it, in the order the events were delivered."""
    scoring_rules: dict[str, ScoringRule] = field(default_factory=dict)
    """Each study's scoring rule once read (``_scoring_rule``), oldest first."""
    plots_ahead: TrialPlotsAhead | None = None
    """Draws each trial's plots once its data is final (``ReporterSettings.plots_ahead_dir``), else None."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "writer", GroupCommit(self.repository, CONSUMER))


async def _once(event: EventEnvelope, deps: ReporterDeps, apply: Apply) -> bool:
    return await deps.writer.run_once(event.id, apply)


async def _once_for_trial(event: EventEnvelope, deps: ReporterDeps, apply: TrialApply) -> bool:
    """``_once`` for a trial event, applied only when the trial is new or belongs to the event's study (an
    event naming another study's trial, forged or a bug, changes nothing) and, for the trial's lifecycle
    events, only while it has not ended (``services.runtime.fencing``)."""
    trial_id = _trial_id(event)

    def guarded(repo: ReadModelRepository) -> None:
        current = repo.get_trial(trial_id)
        if current is not None and current.study_id != event.study_id:
            log.warning("%s for trial %s names study %s, not its own; ignored", event.type, trial_id, event.study_id)
            return
        if is_stale(event, trial_ended=current is not None and current.is_finished):
            raise StaleEvent(f"trial {trial_id} ended already ({current.state if current else '?'})")
        apply(repo, current)

    return await _once(event, deps, guarded)


def _trial_id(event: EventEnvelope) -> str:
    if not event.trial_id:
        raise FatalError(f"{event.type} event {event.id} carries no trial_id")
    return event.trial_id


def _state_after(current: TrialRecord | None, state: TrialState) -> dict[str, Any]:
    """``{"state": state}`` unless that would move the trial backwards."""
    if current is not None and _STATE_RANK.get(TrialState(current.state), 0) > _STATE_RANK[state]:
        return {}
    return {"state": state.value}


def _rescore(
    repo: ReadModelRepository,
    deps: ReporterDeps,
    current: TrialRecord | None,
    trial_id: str,
    study_id: str,
    written: dict[str, Any],
) -> None:
    """Store the trial's score once it can be computed. ``current`` is the trial before this event
    wrote ``written``; their merge is what the read model now holds (re-read only for a trial the
    transaction has not seen)."""
    trial = replace(current, **written) if current is not None else repo.get_trial(trial_id)
    rule = _scoring_rule(repo, deps, study_id)
    if trial is None or rule is None:
        return
    breakdown = score_trial(trial, rule)
    if breakdown is not None:
        repo.upsert_trial(trial_id, study_id, score=breakdown.score, objective_score=breakdown.objective_score)


def _scoring_rule(repo: ReadModelRepository, deps: ReporterDeps, study_id: str) -> ScoringRule | None:
    """The study's scoring rule, read once per study (a study's objective and mode never change)."""
    rule = deps.scoring_rules.get(study_id)
    if rule is None:
        study = repo.get_study(study_id)
        if study is None:
            return None
        rule = deps.scoring_rules[study_id] = ScoringRule.of(study)
        while len(deps.scoring_rules) > _SCORING_RULES_KEPT:
            del deps.scoring_rules[next(iter(deps.scoring_rules))]
    return rule


def _duration(
    current: TrialRecord | None, *, started_at: datetime | None = None, finished_at: datetime | None = None
) -> dict[str, Any]:
    """``duration_seconds`` once a trial's start and end are both known, from this event's time and
    what the read model held (``current`` None: nothing), so that ``upsert_trial`` need not re-read."""
    started = utc(started_at) or (current.started_at if current else None)
    finished = utc(finished_at) or (current.finished_at if current else None)
    return {"duration_seconds": (finished - started).total_seconds() if started and finished else None}


def _has_newer_health(trial: TrialRecord, epoch: int) -> bool:
    if not trial.health:
        return False
    return is_health_final(trial) or int(trial.health.get("epoch", 0)) > epoch


def derived_id(cause: EventEnvelope, what: str) -> str:
    """A stable id for an event published because of ``cause``: redelivery republishes the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"hpo:{cause.id}:{what}").hex


# ---- handlers --------------------------------------------------------------------------------

handlers: HandlerTable[ReporterDeps] = HandlerTable("reporter")


@handlers.on(StudyCreated)
async def on_study_created(event: StudyCreated, deps: ReporterDeps) -> None:
    config = event.data.config

    def apply(repo: ReadModelRepository) -> None:
        if repo.get_study(event.study_id) is not None:
            log.warning("study.created for known study %s ignored (a study is created once)", event.study_id)
            return
        repo.upsert_study(
            event.study_id,
            owner=event.data.owner,
            name=event.data.study_name,
            dataset=config.dataset.value,
            mode=config.mode.value,
            objective=config.optimize_for.value,
            config=config.model_dump(mode="json"),
            created_at=event.time,
        )

    await _once(event, deps, apply)


@handlers.on(StudyResumed)
async def on_study_resumed(event: StudyResumed, deps: ReporterDeps) -> None:
    def apply(repo: ReadModelRepository) -> None:
        if not repo.reopen_study(event.study_id):
            raise RetryableError(f"study {event.study_id} resumed before the reporter saw it created")

    await _once(event, deps, apply)


@handlers.on(TrialRequested)
async def on_trial_requested(event: TrialRequested, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        state = _state_after(current, TrialState.REQUESTED)
        repo.upsert_trial(
            trial_id, event.study_id, number=data.trial_number, attempt=data.attempt, params=data.params, **state
        )

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialStarted)
async def on_trial_started(event: TrialStarted, deps: ReporterDeps) -> None:
    import_ahead()  # the report's fANOVA imports, while the trials train
    trial_id, data = _trial_id(event), event.data
    fields: dict[str, Any] = {"number": data.trial_number, "trainer_id": data.trainer_id, "started_at": event.time}
    if data.attempt > 1:  # trial.requested is authoritative; a trainer may leave the default 1
        fields["attempt"] = data.attempt
    if data.architecture:
        fields["architecture"] = data.architecture
    if data.parameter_count:
        fields["parameter_count"] = data.parameter_count

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        state = _state_after(current, TrialState.RUNNING)
        repo.upsert_trial(trial_id, event.study_id, **fields, **state, **_duration(current, started_at=event.time))
        if data.data_notes:  # every trial loads the same data: the latest word stands for the study
            repo.set_study_data_notes(event.study_id, data.data_notes)
        if data.layers:
            repo.record_layers(trial_id, event.study_id, [layer.model_dump(mode="json") for layer in data.layers])

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialEpochCompleted)
async def on_epoch_completed(event: TrialEpochCompleted, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    telemetry = data.telemetry

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        fields: dict[str, Any] = {"number": data.trial_number, "trainer_id": data.trainer_id}
        fields |= _state_after(current, TrialState.RUNNING)
        if current is None or telemetry.epoch >= current.epochs_trained:
            fields["epochs_trained"] = telemetry.epoch
        if (current is None or not current.is_finished) and telemetry.val_accuracy is not None:
            fields["val_accuracy"] = telemetry.val_accuracy
        repo.upsert_trial(trial_id, event.study_id, **fields)
        repo.record_epoch(
            trial_id,
            event.study_id,
            telemetry.epoch,
            loss=telemetry.loss,
            accuracy=telemetry.accuracy,
            val_loss=telemetry.val_loss,
            val_accuracy=telemetry.val_accuracy,
            epoch_seconds=telemetry.epoch_seconds,
            telemetry=telemetry.model_dump(mode="json"),
        )

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialCompleted)
async def on_trial_completed(event: TrialCompleted, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    metrics = data.metrics
    fields: dict[str, Any] = {
        "number": data.trial_number,
        "state": TrialState.COMPLETED.value,
        "trainer_id": data.trainer_id,
        "metrics": metrics.model_dump(mode="json"),
        "val_accuracy": metrics.val_accuracy,
        "parameter_count": metrics.parameter_count,
        "epochs_trained": metrics.epochs_trained,
        "model_key": data.model_key,
        "finished_at": event.time,
    }
    if data.architecture:
        fields["architecture"] = data.architecture
    if data.stopped_early:
        fields["reason"] = "stopped early on request"

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        written = fields | _duration(current, finished_at=event.time)
        repo.upsert_trial(trial_id, event.study_id, **written)
        _rescore(repo, deps, current, trial_id, event.study_id, written)

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialPruned)
async def on_trial_pruned(event: TrialPruned, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    fields: dict[str, Any] = {
        "number": data.trial_number,
        "state": TrialState.PRUNED.value,
        "trainer_id": data.trainer_id,
        "epochs_trained": data.epoch,
        "reason": data.reason or f"pruned at epoch {data.epoch}",
        "finished_at": event.time,
    }
    if data.last_val_accuracy is not None:
        fields["val_accuracy"] = data.last_val_accuracy

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        repo.upsert_trial(trial_id, event.study_id, **fields, **_duration(current, finished_at=event.time))

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialFailed)
async def on_trial_failed(event: TrialFailed, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    fields: dict[str, Any] = {
        "number": data.trial_number,
        "state": TrialState.FAILED.value,
        "reason": data.reason,
        "finished_at": event.time,
        "score": None,  # the scheduler's failure outranks a result a superseded attempt sent first
        "objective_score": None,
    }
    if data.trainer_id:
        fields["trainer_id"] = data.trainer_id

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        if current is None or data.epochs_trained >= current.epochs_trained:
            fields["epochs_trained"] = data.epochs_trained
        repo.upsert_trial(trial_id, event.study_id, **fields, **_duration(current, finished_at=event.time))

    await _once_for_trial(event, deps, apply)


@handlers.on(TrialHealthAssessed)
async def on_health_assessed(event: TrialHealthAssessed, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    health = data.assessment.model_dump(mode="json") | {"epoch": data.epoch, "final": data.final}

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        if not data.final and current is not None and _has_newer_health(current, data.epoch):
            return  # a late running assessment never replaces a newer or final one
        written = {"number": data.trial_number, "health": health, "overall_health": data.assessment.overall_health}
        repo.upsert_trial(trial_id, event.study_id, **written)
        if data.final:  # only the final assessment counts in the score (``score_trial``)
            _rescore(repo, deps, current, trial_id, event.study_id, written)

    await _once_for_trial(event, deps, apply)
    if data.final and deps.plots_ahead is not None:
        deps.plots_ahead.trial_final(event.study_id, trial_id)


@handlers.on(TrialHealthAlert)
async def on_health_alert(event: TrialHealthAlert, deps: ReporterDeps) -> None:
    trial_id, data = _trial_id(event), event.data
    alert = data.alert

    def apply(repo: ReadModelRepository, current: TrialRecord | None) -> None:
        repo.upsert_trial(trial_id, event.study_id, number=data.trial_number)
        repo.record_alert(
            event.study_id,
            trial_id,
            kind=alert.kind.value,
            severity=alert.severity.value,
            message=alert.message,
            epoch=alert.epoch,
            layer=alert.layer,
        )

    await _once_for_trial(event, deps, apply)


@handlers.on(ArtifactStored)
async def on_artifact_stored(event: ArtifactStored, deps: ReporterDeps) -> None:
    data = event.data
    await _once(
        event,
        deps,
        lambda repo: repo.record_artifact(
            data.key, kind=data.kind, size_bytes=data.size_bytes, study_id=event.study_id
        ),
    )


@handlers.on(StudyCompleted)
async def on_study_completed(event: StudyCompleted, deps: ReporterDeps) -> None:
    repo, data = deps.repository, event.data
    if await asyncio.to_thread(repo.is_processed, CONSUMER, event.id):
        return
    counts = {"completed": data.completed_trials, "pruned": data.pruned_trials, "failed": data.failed_trials}
    known = await deps.writer.run(  # after the writes of every event delivered before it
        lambda bound: bound.set_study_state(
            event.study_id,
            data.state.value,
            reason=data.reason or None,
            completed_at=event.time,
            best_trial_id=data.best_trial_id,
            counts=counts,
        )
    )
    if not known:
        raise RetryableError(f"study {event.study_id} completed before the reporter saw it created")
    if deps.plots_ahead is not None:
        await asyncio.to_thread(deps.plots_ahead.settle)
    built = await asyncio.to_thread(
        build_results,
        event.study_id,
        repository=repo,
        artifacts=deps.artifacts,
        results_root=deps.settings.results_root,
        dpi=deps.settings.plot_dpi,
        workers=deps.settings.plot_workers,
        trial_plots=deps.settings.trial_plots,
        drawn_ahead=deps.plots_ahead.find if deps.plots_ahead is not None else None,
    )
    await _announce(event, built, deps)
    await asyncio.to_thread(repo.mark_processed, CONSUMER, event.id)


async def _announce(cause: StudyCompleted, built: BuiltResults, deps: ReporterDeps) -> None:
    log.info("results of study %s written to %s", cause.study_id, built.results_dir)
    stored = ArtifactStoredData(key=built.bundle_key, kind="report_bundle", size_bytes=built.bundle_size)
    await deps.publish(cause.follow_up(ArtifactStored, stored, source=SOURCE, id=derived_id(cause, "artifact.stored")))
    ready = ReportReadyData(
        results_dir=str(built.results_dir),
        bundle_key=built.bundle_key,
        bundle_path=str(built.zip_path),
        best_trial_number=built.best_trial_number,
    )
    await deps.publish(cause.follow_up(ReportReady, ready, source=SOURCE, id=derived_id(cause, "report.ready")))
