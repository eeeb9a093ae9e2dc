"""``POST /optimize``, ``GET /jobs``, ``GET /jobs/{id}``, ``POST /jobs/{id}/stop``."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from contracts.events import (
    EventEnvelope,
    StudyCreated,
    StudyCreatedData,
    StudyStopRequested,
    StudyStopRequestedData,
    new_id,
)
from services.api.auth import require_read, require_token
from services.api.context import TERMINAL_STUDY_STATES, ApiContext, ContextDep, now
from services.api.models import Job, JobAccepted, OptimizeRequest, Page, StopAccepted
from services.api.routes.common import JobId, errors

log = logging.getLogger(__name__)

router = APIRouter(tags=["jobs"])
SOURCE = "api"
MAX_JOBS_PAGE = 200


@router.post(
    "/optimize",
    status_code=202,
    response_model=JobAccepted,
    dependencies=[Depends(require_token)],
    responses=errors(401, 503),
)
async def optimize(request: OptimizeRequest, ctx: ContextDep) -> JobAccepted:
    """Start a study: publishes ``study.created``; the job id is the study id."""
    config = request.config()
    job_id = new_id()
    created = now()
    name = request.study_name or f"{config.dataset.value}_{config.mode.value}_{created:%Y%m%d_%H%M%S}_{job_id[:6]}"
    event = StudyCreated(source=SOURCE, study_id=job_id, data=StudyCreatedData(study_name=name, config=config))
    await _publish(ctx, event)
    job = Job(
        job_id=job_id,
        name=name,
        state="submitted",
        dataset=config.dataset.value,
        mode=config.mode.value,
        objective=config.optimize_for.value,
        config=config.model_dump(mode="json"),
        created_at=created,
    )
    ctx.remember(job)
    log.info("job %s (%s) submitted", job_id, name)
    base = f"/jobs/{job_id}"
    links = {"self": base, "events": f"{base}/events", "trials": f"{base}/trials", "download": f"{base}/download"}
    return JobAccepted(job_id=job_id, study_name=name, state="submitted", links=links)


@router.get("/jobs", response_model=Page[Job], dependencies=[Depends(require_read)], responses=errors(401))
async def jobs(
    ctx: ContextDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_JOBS_PAGE)] = 50,
) -> Page[Job]:
    """Jobs, newest first."""
    records = await ctx.db(ctx.repository.list_studies, offset=offset, limit=limit)
    total = await ctx.db(ctx.repository.count_studies)
    items = []
    for record in records:
        live = record.state not in TERMINAL_STUDY_STATES or not record.counts
        counts = await ctx.db(ctx.repository.trial_counts, record.study_id) if live else None
        items.append(Job.of(record, counts))
    return Page[Job](total=total, offset=offset, limit=limit, items=items)


@router.get("/jobs/{job_id}", response_model=Job, dependencies=[Depends(require_read)], responses=errors(401, 404))
async def job(job_id: JobId, ctx: ContextDep) -> Job:
    """One job with its trial counts per state."""
    found, _ = await ctx.job(job_id)
    return found


@router.post(
    "/jobs/{job_id}/stop",
    status_code=202,
    response_model=StopAccepted,
    dependencies=[Depends(require_token)],
    responses=errors(401, 404, 409, 503),
)
async def stop(job_id: JobId, ctx: ContextDep) -> StopAccepted:
    """Ask the study to stop: publishes ``study.stop_requested``; running trials end at their next boundary."""
    found, _ = await ctx.job(job_id)
    if found.state in TERMINAL_STUDY_STATES:
        raise HTTPException(409, f"job {job_id} is already {found.state}")
    reason = "stop requested through the API"
    await _publish(ctx, StudyStopRequested(source=SOURCE, study_id=job_id, data=StudyStopRequestedData(reason=reason)))
    return StopAccepted(job_id=job_id)


async def _publish(ctx: ApiContext, event: EventEnvelope) -> None:
    try:
        await ctx.bus.publish(event)
    except Exception as exc:
        log.warning("could not publish %s: %s", getattr(event, "type", "?"), exc)
        raise HTTPException(503, "the message broker is unavailable; nothing was started or stopped") from None
