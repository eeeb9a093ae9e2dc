"""A job's trials: a sortable page, the current and the best trial, and series for charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from contracts.enums import TrialState
from services.api.auth import require_read
from services.api.context import ApiContext, ContextDep
from services.api.models import Alert, EpochPoint, Page, SortOrder, Trends, Trial, TrialPoint, TrialSort
from services.api.routes.common import JobId, errors
from services.runtime.db.records import TrialRecord
from services.runtime.db.repository import MAX_PAGE_SIZE

router = APIRouter(tags=["trials"], dependencies=[Depends(require_read)])
MAX_TRIALS_PAGE = 500


@router.get("/jobs/{job_id}/trials", response_model=Page[Trial], responses=errors(401, 404))
async def trials(
    job_id: JobId,
    ctx: ContextDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TRIALS_PAGE)] = 50,
    sort: Annotated[TrialSort, Query(description="Field to sort by.")] = TrialSort.NUMBER,
    order: Annotated[SortOrder, Query(description="asc or desc; trials without a value come last.")] = SortOrder.ASC,
    state: Annotated[TrialState | None, Query(description="Only trials in this state.")] = None,
) -> Page[Trial]:
    """One page of the job's trials."""
    await ctx.job(job_id)
    state_value = state.value if state is not None else None
    records = await ctx.db(
        ctx.repository.list_trials,
        job_id,
        offset=offset,
        limit=limit,
        sort_by=sort.value,
        descending=order is SortOrder.DESC,
        state=state_value,
    )
    total = await ctx.db(ctx.repository.count_trials, job_id, state=state_value)
    return Page[Trial](total=total, offset=offset, limit=limit, items=[Trial.of(r) for r in records])


@router.get("/jobs/{job_id}/current-trial", response_model=Trial, responses=errors(401, 404))
async def current_trial(job_id: JobId, ctx: ContextDep) -> Trial:
    """The running trial with the highest number (404 while none runs)."""
    await ctx.job(job_id)
    running = await ctx.db(
        ctx.repository.list_trials, job_id, limit=1, sort_by="number", descending=True, state=TrialState.RUNNING.value
    )
    if not running:
        raise HTTPException(404, f"no trial of job {job_id} is running")
    return Trial.of(running[0])


@router.get("/jobs/{job_id}/best-trial", response_model=Trial, responses=errors(401, 404))
async def best_trial(job_id: JobId, ctx: ContextDep) -> Trial:
    """The study's best trial so far (404 until a trial completed with a score)."""
    await ctx.job(job_id)
    best = await ctx.db(ctx.repository.best_trial, job_id)
    if best is None:
        raise HTTPException(404, f"job {job_id} has no completed trial with a score yet")
    return Trial.of(best)


@router.get("/jobs/{job_id}/trends", response_model=Trends, responses=errors(401, 404))
async def trends(
    job_id: JobId,
    ctx: ContextDep,
    epochs: Annotated[bool, Query(description="Include the per-epoch series.")] = True,
) -> Trends:
    """Per-trial series (score, best so far, accuracy, health, duration), per-epoch curves and alerts."""
    await ctx.job(job_id)
    records = await ctx.db(_all_trials, ctx, job_id)
    numbers = {r.trial_id: r.number for r in records}
    epoch_points: list[EpochPoint] = []
    if epochs:
        epoch_points = [
            EpochPoint(
                trial_id=e.trial_id,
                number=numbers.get(e.trial_id),
                epoch=e.epoch,
                loss=e.loss,
                accuracy=e.accuracy,
                val_loss=e.val_loss,
                val_accuracy=e.val_accuracy,
                epoch_seconds=e.epoch_seconds,
            )
            for e in await ctx.db(ctx.repository.epochs_for_study, job_id)
        ]
    alerts = [
        Alert(trial_id=a.trial_id, kind=a.kind, severity=a.severity, message=a.message, epoch=a.epoch, layer=a.layer)
        for a in await ctx.db(ctx.repository.alerts_for_study, job_id)
    ]
    return Trends(job_id=job_id, trials=_points(records), epochs=epoch_points, alerts=alerts)


def _all_trials(ctx: ApiContext, job_id: str) -> list[TrialRecord]:
    records: list[TrialRecord] = []
    while True:
        page = ctx.repository.list_trials(job_id, offset=len(records), limit=MAX_PAGE_SIZE, sort_by="number")
        records += page
        if len(page) < MAX_PAGE_SIZE:
            return records


def _points(records: list[TrialRecord]) -> list[TrialPoint]:
    best: float | None = None
    points = []
    for r in records:
        if r.state == TrialState.COMPLETED.value and r.score is not None:
            best = r.score if best is None else max(best, r.score)
        points.append(
            TrialPoint(
                trial_id=r.trial_id,
                number=r.number,
                state=r.state,
                score=r.score,
                best_score=best,
                val_accuracy=r.val_accuracy,
                overall_health=r.overall_health,
                duration_seconds=r.duration_seconds,
            )
        )
    return points
