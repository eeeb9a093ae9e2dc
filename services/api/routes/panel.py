"""What the control panel reads in one request each: ``GET /jobs/summary`` and ``GET /jobs/{id}/trials/{number}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from contracts.architecture import LayerSpec
from contracts.enums import StudyState
from services.api.auth import ReaderDep
from services.api.context import TERMINAL_STUDY_STATES, ContextDep, now
from services.api.models import Alert, Job, Trial
from services.api.routes.common import JobId, errors
from services.api.views import EpochDetail, HealthBreakdown, JobSummaries, JobSummary, LayerStats, TrialDetail
from services.runtime.db.records import TERMINAL_TRIAL_STATES, EpochRecord, StudyRecord

router = APIRouter(tags=["panel"])
MAX_SUMMARY_PAGE = 200


@router.get("/jobs/summary", response_model=JobSummaries, responses=errors(401))
async def job_summaries(
    ctx: ContextDep,
    viewer: ReaderDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_SUMMARY_PAGE)] = 50,
    state: Annotated[StudyState | None, Query(description="Only jobs in this state.")] = None,
) -> JobSummaries:
    """Jobs, newest first, each with its progress (finished / asked-for trials), best score, start and duration:
    the Jobs page in one request (a submit token sees its own only)."""
    filters = {"state": state.value if state is not None else None, "owner": viewer.owner_filter}
    records = await ctx.db(ctx.repository.list_studies, offset=offset, limit=limit, **filters)
    total = await ctx.db(ctx.repository.count_studies, **filters)
    best = await ctx.db(ctx.repository.best_scores, [r.study_id for r in records])
    items = []
    for record in records:
        live = record.state not in TERMINAL_STUDY_STATES or not record.counts
        counts = await ctx.trial_counts(record.study_id) if live else record.counts
        items.append(_summary(record, counts, best.get(record.study_id)))
    if offset == 0 and state in (None, StudyState.RUNNING):
        known = {r.study_id for r in records}
        pending = [job for job in ctx.submitted.values() if job.job_id not in known and viewer.may_see(job.owner)]
        items[:0] = [_pending(job) for job in reversed(pending)][: max(0, limit - len(items))]
        total += len(pending)
    return JobSummaries(total=total, offset=offset, limit=limit, items=items)


@router.get("/jobs/{job_id}/trials/{number}", response_model=TrialDetail, responses=errors(401, 404))
async def trial_detail(
    job_id: JobId,
    number: Annotated[int, Path(ge=0, le=10_000_000, description="The trial number (0 is the first trial).")],
    ctx: ContextDep,
    viewer: ReaderDep,
) -> TrialDetail:
    """One trial in full: its row, every epoch's metrics with a telemetry summary per layer, the latest health
    breakdown, its alerts and its architecture layer by layer (latest attempt)."""
    await ctx.job(job_id, viewer)
    record = await ctx.db(ctx.repository.trial_by_number, job_id, number)
    if record is None:
        raise HTTPException(404, f"job {job_id} has no trial number {number}; GET /jobs/{job_id}/trials lists them")
    epochs = await ctx.db(ctx.repository.epochs_for_trial, record.trial_id)
    alerts = await ctx.db(ctx.repository.alerts_for_trial, record.trial_id)
    layers = await ctx.db(ctx.repository.layers_for_trial, record.trial_id)
    return TrialDetail(
        job_id=job_id,
        trial=Trial.of(record),
        epochs=[_epoch(e) for e in epochs],
        health=HealthBreakdown.of(record.health),
        alerts=[Alert.model_validate(a, from_attributes=True) for a in alerts],
        layers=[LayerSpec.model_validate(layer) for layer in layers],
    )


def _summary(record: StudyRecord, counts: dict[str, int], best_score: float | None) -> JobSummary:
    asked = record.config.get("trials") if record.config else None
    return JobSummary(
        job_id=record.study_id,
        name=record.name,
        state=record.state,
        dataset=record.dataset,
        mode=record.mode,
        objective=record.objective,
        finished_trials=sum(n for state, n in counts.items() if state in TERMINAL_TRIAL_STATES),
        running_trials=counts.get("running", 0),
        total_trials=int(asked) if isinstance(asked, int) else None,
        best_score=best_score,
        started_at=record.created_at,
        completed_at=record.completed_at,
        duration_seconds=_duration(record.created_at, record.completed_at, record.state),
        owner=record.owner,
    )


def _pending(job: Job) -> JobSummary:
    asked = job.config.get("trials")
    return JobSummary(
        job_id=job.job_id,
        name=job.name,
        state=job.state,
        dataset=job.dataset,
        mode=job.mode,
        objective=job.objective,
        total_trials=int(asked) if isinstance(asked, int) else None,
        started_at=job.created_at,
        owner=job.owner,
    )


def _duration(started: datetime | None, ended: datetime | None, state: str) -> float | None:
    if started is None:
        return None
    end = ended or (now() if state not in TERMINAL_STUDY_STATES else None)
    return max(0.0, (end - started).total_seconds()) if end is not None else None


def _epoch(record: EpochRecord) -> EpochDetail:
    telemetry: dict[str, Any] = record.telemetry or {}
    return EpochDetail(
        epoch=record.epoch,
        loss=record.loss,
        accuracy=record.accuracy,
        val_loss=record.val_loss,
        val_accuracy=record.val_accuracy,
        learning_rate=telemetry.get("learning_rate"),
        epoch_seconds=record.epoch_seconds,
        samples_per_second=telemetry.get("samples_per_second"),
        memory_rss_mb=telemetry.get("memory_rss_mb"),
        telemetry_seconds=telemetry.get("telemetry_seconds"),
        layers=[LayerStats.model_validate(layer) for layer in telemetry.get("layers") or []],
    )
