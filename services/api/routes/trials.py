"""A job's trials: a sortable page, the current and the best trial, and series for charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from contracts.enums import Mode, TrialState
from contracts.pareto import KNEE_RULE, ParetoPoint, knee, pareto_front
from services.api.auth import ReaderDep
from services.api.context import COUNTS_REUSED_FROM_TRIALS, ContextDep
from services.api.models import (
    Alert,
    BestTrial,
    EpochPoint,
    Page,
    ParetoFront,
    ParetoMember,
    SortOrder,
    Trends,
    Trial,
    TrialPoint,
    TrialSort,
)
from services.api.routes.common import JobId, errors
from services.runtime.db.records import TrialRecord
from services.runtime.db.series import TrialPointRecord

router = APIRouter(tags=["trials"])
MAX_TRIALS_PAGE = 500
MAX_EPOCHS_PAGE = 20_000
MAX_TREND_TRIALS = 10_000
MAX_TREND_ALERTS = 10_000


@router.get("/jobs/{job_id}/trials", response_model=Page[Trial], responses=errors(401, 404))
async def trials(
    job_id: JobId,
    ctx: ContextDep,
    viewer: ReaderDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TRIALS_PAGE)] = 50,
    sort: Annotated[TrialSort, Query(description="Field to sort by.")] = TrialSort.NUMBER,
    order: Annotated[SortOrder, Query(description="asc or desc; trials without a value come last.")] = SortOrder.ASC,
    state: Annotated[TrialState | None, Query(description="Only trials in this state.")] = None,
) -> Page[Trial]:
    """One page of the job's trials."""
    await ctx.job(job_id, viewer)
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
    counts = await ctx.trial_counts(job_id)
    total = sum(counts.values()) if state_value is None else counts.get(state_value, 0)
    return Page[Trial](total=total, offset=offset, limit=limit, items=[Trial.of(r) for r in records])


@router.get("/jobs/{job_id}/current-trial", response_model=Trial, responses=errors(401, 404))
async def current_trial(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> Trial:
    """The running trial with the highest number (404 while none runs)."""
    await ctx.job(job_id, viewer)
    running = await ctx.db(
        ctx.repository.list_trials, job_id, limit=1, sort_by="number", descending=True, state=TrialState.RUNNING.value
    )
    if not running:
        raise HTTPException(404, f"no trial of job {job_id} is running")
    return Trial.of(running[0])


@router.get("/jobs/{job_id}/best-trial", response_model=BestTrial, responses=errors(401, 404))
async def best_trial(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> BestTrial:
    """The study's best trial so far (a pareto study's: the knee of its front), with its held-out test figures
    (404 until a trial completed with a score)."""
    await ctx.job(job_id, viewer)
    best = await ctx.db(ctx.repository.best_trial, job_id)
    if best is None:
        raise HTTPException(404, f"job {job_id} has no completed trial with a score yet")
    return BestTrial.of(best)


@router.get("/jobs/{job_id}/pareto", response_model=ParetoFront, responses=errors(401, 404))
async def pareto(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> ParetoFront:
    """A pareto study's front over objective score and overall health, and its recommended trial (the knee;
    ``rule`` states how it is chosen). 404 for a study of another mode."""
    _, record = await ctx.job(job_id, viewer)
    if record is None or record.mode != Mode.PARETO.value:
        raise HTTPException(404, f"job {job_id} is not a pareto study (mode=pareto has a front)")
    completed = await ctx.db(
        ctx.repository.list_trials, job_id, limit=MAX_TRIALS_PAGE, sort_by="score", descending=True,
        state=TrialState.COMPLETED.value,
    )  # fmt: skip
    return pareto_front_of(completed, record.objective or "")


def pareto_front_of(records: list[TrialRecord], objective: str) -> ParetoFront:
    scored = {
        r.number: r
        for r in records
        if r.number is not None and r.objective_score is not None and r.overall_health is not None
    }
    points = [
        ParetoPoint(n, float(r.objective_score or 0.0), float(r.overall_health or 0.0)) for n, r in scored.items()
    ]
    chosen = knee(points)
    members = [
        ParetoMember(
            number=p.number,
            trial_id=scored[p.number].trial_id,
            objective_score=p.first,
            overall_health=p.second,
            val_accuracy=scored[p.number].val_accuracy,
            test_accuracy=(scored[p.number].metrics or {}).get("test_accuracy"),
            parameter_count=scored[p.number].parameter_count,
        )
        for p in pareto_front(points)
    ]
    return ParetoFront(
        objectives=[f"objective_score({objective})", "overall_health"],
        front=members,
        recommended_trial=chosen.number if chosen else None,
        rule=KNEE_RULE,
    )


@router.get("/jobs/{job_id}/trends", response_model=Trends, responses=errors(401, 404))
async def trends(
    job_id: JobId,
    ctx: ContextDep,
    viewer: ReaderDep,
    epochs: Annotated[bool, Query(description="Include a page of the per-epoch series.")] = True,
    epochs_offset: Annotated[int, Query(ge=0, le=100_000_000, description="First epoch row of the page.")] = 0,
    epochs_limit: Annotated[int, Query(ge=1, le=MAX_EPOCHS_PAGE, description="Epoch rows in the page.")] = 5_000,
    max_trials: Annotated[
        int, Query(ge=10, le=MAX_TREND_TRIALS, description="Trials at most in the per-trial series (downsampled).")
    ] = 2_000,
    max_alerts: Annotated[
        int, Query(ge=0, le=MAX_TREND_ALERTS, description="The latest alerts at most (alerts_total counts all).")
    ] = 1_000,
) -> Response:
    """Per-trial series (score, best so far, accuracy, health, duration), a page of per-epoch curves, and the
    latest alerts. A longer per-trial series is downsampled to ``max_trials`` points that keep the first and last
    trial and every trial that improved the best score; the epochs come a page at a time."""
    await ctx.job(job_id, viewer)  # who may read it is checked on every request; only the body is reused
    key = ("trends", job_id, epochs, epochs_offset, epochs_limit, max_trials, max_alerts)
    if (reused := ctx.reused_read(key)) is not None:
        return Response(reused, media_type="application/json")
    series = await ctx.db(ctx.series.trial_series, job_id, max_trials)
    shown = downsample(_points(series.points), max_trials)
    epoch_points: list[EpochPoint] = []
    total_epochs = 0
    if epochs:
        rows = await ctx.db(ctx.series.epoch_points, job_id, offset=epochs_offset, limit=epochs_limit)
        epoch_points = [EpochPoint.model_validate(row, from_attributes=True) for row in rows]
        total_epochs = await ctx.db(ctx.series.count_epochs, job_id)
    alerts = [
        Alert(trial_id=a.trial_id, kind=a.kind, severity=a.severity, message=a.message, epoch=a.epoch, layer=a.layer)
        for a in await ctx.db(ctx.repository.alerts_for_study, job_id, latest=max_alerts)
    ]
    alerts_total = len(alerts) if len(alerts) < max_alerts else await ctx.db(ctx.repository.count_alerts, job_id)
    body = (
        Trends(
            job_id=job_id,
            trials=shown,
            epochs=epoch_points,
            alerts=alerts,
            trials_total=series.total,
            alerts_total=alerts_total,
            epochs_total=total_epochs,
            epochs_offset=epochs_offset,
        )
        .model_dump_json()
        .encode()
    )
    if series.total >= COUNTS_REUSED_FROM_TRIALS:  # a large study: reused for counts_cache_seconds
        ctx.keep_read(key, body)
    return Response(body, media_type="application/json")


def _points(records: list[TrialPointRecord]) -> list[TrialPoint]:
    return [
        TrialPoint(
            trial_id=r.trial_id,
            number=r.number,
            state=r.state,
            score=r.score,
            best_score=r.best_score,
            val_accuracy=r.val_accuracy,
            overall_health=r.overall_health,
            duration_seconds=r.duration_seconds,
        )
        for r in records
    ]


def downsample(points: list[TrialPoint], at_most: int) -> list[TrialPoint]:
    """At most ``at_most`` points, in order: the first and the last, every improvement of the best score
    (evenly thinned should there be more of them than room), and evenly spaced others."""
    if len(points) <= at_most:
        return points
    last = len(points) - 1
    marks = [i for i in range(1, last) if points[i].best_score != points[i - 1].best_score]
    if len(marks) + 2 >= at_most:
        chosen = [0, *_evenly(marks, at_most - 2), last]
    else:
        kept = {0, last, *marks}
        others = [i for i in range(len(points)) if i not in kept]
        chosen = sorted(kept | set(_evenly(others, at_most - len(kept))))
    return [points[i] for i in chosen]


def _evenly(indices: list[int], count: int) -> list[int]:
    step = len(indices) / count if count else 0
    return [indices[int(k * step)] for k in range(count)] if count < len(indices) else indices
