"""``POST /optimize``, ``GET /jobs``, ``GET /jobs/{id}``, ``POST /jobs/{id}/stop``."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from contracts.enums import StudyState
from contracts.events import (
    EventEnvelope,
    StudyCreated,
    StudyCreatedData,
    StudyResumeRequested,
    StudyResumeRequestedData,
    StudyStopRequested,
    StudyStopRequestedData,
    new_id,
)
from contracts.study import StudyConfig
from services.api.auth import ReaderDep, SubmitterDep
from services.api.context import TERMINAL_STUDY_STATES, ApiContext, ContextDep, now
from services.api.models import Job, JobAccepted, OptimizeRequest, Page, ResumeAccepted, StopAccepted
from services.api.principal import Principal
from services.api.routes.common import JobId, errors

log = logging.getLogger(__name__)

router = APIRouter(tags=["jobs"])
SOURCE = "api"
MAX_JOBS_PAGE = 200


@router.post(
    "/optimize",
    status_code=202,
    response_model=JobAccepted,
    responses=errors(401, 403, 429, 503),
)
async def optimize(request: OptimizeRequest, ctx: ContextDep, submitter: SubmitterDep) -> JobAccepted:
    """Start a study: publishes ``study.created``; the job id is the study id. A named token's quotas apply:
    trials x max_epochs per study, and studies running at once (403 naming the limit)."""
    config = request.config()
    await _check_quotas(ctx, submitter, config)
    job_id = new_id()
    created = now()
    name = request.study_name or f"{config.dataset.value}_{config.mode.value}_{created:%Y%m%d_%H%M%S}_{job_id[:6]}"
    data = StudyCreatedData(study_name=name, config=config, owner=submitter.name)
    event = StudyCreated(source=SOURCE, study_id=job_id, data=data)
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
        owner=submitter.name,
    )
    ctx.remember(job)
    log.info("job %s (%s) submitted", job_id, name)
    base = f"/jobs/{job_id}"
    links = {"self": base, "events": f"{base}/events", "trials": f"{base}/trials", "download": f"{base}/download"}
    return JobAccepted(job_id=job_id, study_name=name, state="submitted", links=links)


@router.get("/jobs", response_model=Page[Job], responses=errors(401))
async def jobs(
    ctx: ContextDep,
    viewer: ReaderDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_JOBS_PAGE)] = 50,
    state: Annotated[StudyState | None, Query(description="Only jobs in this state.")] = None,
) -> Page[Job]:
    """Jobs, newest first (a submit token sees its own only)."""
    filters = {"state": state.value if state is not None else None, "owner": viewer.owner_filter}
    records = await ctx.db(ctx.repository.list_studies, offset=offset, limit=limit, **filters)
    total = await ctx.db(ctx.repository.count_studies, **filters)
    items = []
    for record in records:
        live = record.state not in TERMINAL_STUDY_STATES or not record.counts
        counts = await ctx.trial_counts(record.study_id) if live else None
        items.append(Job.of(record, counts))
    return Page[Job](total=total, offset=offset, limit=limit, items=items)


@router.get("/jobs/{job_id}", response_model=Job, responses=errors(401, 404))
async def job(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> Job:
    """One job with its trial counts per state."""
    found, _ = await ctx.job(job_id, viewer)
    return found


@router.post(
    "/jobs/{job_id}/stop",
    status_code=202,
    response_model=StopAccepted,
    responses=errors(401, 403, 404, 409, 503),
)
async def stop(job_id: JobId, ctx: ContextDep, submitter: SubmitterDep) -> StopAccepted:
    """Ask the study to stop: publishes ``study.stop_requested``; running trials end at their next boundary."""
    found, _ = await ctx.job(job_id, submitter)
    if not submitter.may_change(found.owner):
        raise HTTPException(403, f"job {job_id} belongs to another owner; only its owner or an admin may stop it")
    if found.state in TERMINAL_STUDY_STATES:
        raise HTTPException(409, f"job {job_id} is already {found.state}")
    reason = "stop requested through the API"
    await _publish(ctx, StudyStopRequested(source=SOURCE, study_id=job_id, data=StudyStopRequestedData(reason=reason)))
    return StopAccepted(job_id=job_id)


@router.post(
    "/jobs/{job_id}/resume",
    status_code=202,
    response_model=ResumeAccepted,
    responses=errors(401, 403, 404, 409, 503),
)
async def resume(job_id: JobId, ctx: ContextDep, submitter: SubmitterDep) -> ResumeAccepted:
    """Continue a stopped job: publishes ``study.resume_requested``; its finished trials are kept and only the
    remaining ones run (the report covers all). 409 unless the job is stopped."""
    found, _ = await ctx.job(job_id, submitter)
    if not submitter.may_change(found.owner):
        raise HTTPException(403, f"job {job_id} belongs to another owner; only its owner or an admin may resume it")
    if found.state != StudyState.STOPPED.value:
        raise HTTPException(409, f"job {job_id} is {found.state}; only a stopped job can be resumed")
    await _publish(ctx, StudyResumeRequested(source=SOURCE, study_id=job_id, data=StudyResumeRequestedData()))
    return ResumeAccepted(job_id=job_id)


async def _check_quotas(ctx: ApiContext, submitter: Principal, config: StudyConfig) -> None:
    budget = config.trials * config.max_epochs
    if submitter.max_trial_epochs is not None and budget > submitter.max_trial_epochs:
        raise HTTPException(
            403,
            f"trials x max_epochs = {budget} is over this token's quota of {submitter.max_trial_epochs} per study; "
            "ask for fewer trials or epochs",
        )
    if submitter.max_running_studies is not None and submitter.name is not None:
        running = await ctx.db(ctx.repository.count_studies, state=StudyState.RUNNING.value, owner=submitter.name)
        mine = [job.job_id for job in ctx.submitted.values() if job.owner == submitter.name]
        pending = sum([await ctx.db(ctx.repository.get_study, job_id) is None for job_id in mine])
        if running + pending >= submitter.max_running_studies:
            raise HTTPException(
                429,
                f"this token already runs {running + pending} studies, its quota is {submitter.max_running_studies}; "
                "wait for one to end or stop one",
            )


async def _publish(ctx: ApiContext, event: EventEnvelope) -> None:
    try:
        await ctx.bus.publish(event)
    except Exception as exc:
        log.warning("could not publish %s: %s", getattr(event, "type", "?"), exc)
        raise HTTPException(503, "the message broker is unavailable; nothing was started or stopped") from None
