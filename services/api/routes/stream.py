"""``GET /jobs/{id}/events``: the job's events as Server-Sent Events, as they happen.

The stream opens with a ``snapshot`` (the job as the read model knows it), then carries every
``study.*``, ``trial.*`` (heartbeats and control messages aside), ``artifact.stored`` and
``report.ready`` event of that job only, each as ``event: <type>`` with the event's JSON. It ends
with ``end`` after ``report.ready`` (the ZIP can be downloaded), or at once when the job had
already ended with its results ready. ``lagged`` tells a slow client how many events it missed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from contracts.events import Event, StudyCompleted
from services.api.auth import require_read
from services.api.context import TERMINAL_STUDY_STATES, ApiContext, ContextDep
from services.api.models import Job
from services.api.routes.common import JobId, errors
from services.api.routes.download import bundle_key
from services.api.stream import FINAL_TYPES, Listener

router = APIRouter(tags=["stream"], dependencies=[Depends(require_read)])


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
        **errors(401, 404, 503),
    },
)
async def events(job_id: JobId, ctx: ContextDep) -> StreamingResponse:
    """The live event stream of one job (Server-Sent Events)."""
    await ctx.job(job_id)
    if not ctx.hub.listening:
        raise HTTPException(503, "the live stream is not running in this API process")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_feed(ctx, job_id), media_type="text/event-stream", headers=headers)


async def _feed(ctx: ApiContext, job_id: str) -> AsyncIterator[str]:
    with ctx.hub.listen(job_id) as listener:  # listen first: nothing published meanwhile is missed
        job, _ = await ctx.job(job_id)
        yield sse("snapshot", job.model_dump_json())
        if job.state in TERMINAL_STUDY_STATES and await bundle_key(ctx, job_id) is not None:
            yield sse("end", json.dumps({"job_id": job_id, "state": job.state}))
            return
        async for chunk in _live(ctx, job, listener):
            yield chunk


async def _live(ctx: ApiContext, job: Job, listener: Listener) -> AsyncIterator[str]:
    state = job.state
    while True:
        try:
            event: Event | None = await asyncio.wait_for(listener.queue.get(), ctx.settings.stream_keepalive_seconds)
        except TimeoutError:
            yield ": keepalive\n\n"
            continue
        if event is None:
            yield sse("end", json.dumps({"job_id": job.job_id, "state": state, "reason": "server shutting down"}))
            return
        dropped = listener.take_dropped()
        if dropped:
            yield sse("lagged", json.dumps({"dropped": dropped}))
        yield sse(event.type, event.model_dump_json(), event_id=event.id)
        if isinstance(event, StudyCompleted):
            state = event.data.state.value
        if event.type in FINAL_TYPES:
            yield sse("end", json.dumps({"job_id": job.job_id, "state": state}))
            return


def sse(event: str, data: str, *, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {data}\n\n"
