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

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from contracts.events import Event, StudyCompleted
from services.api.auth import ReaderDep
from services.api.context import TERMINAL_STUDY_STATES, ApiContext, ContextDep
from services.api.models import Job
from services.api.principal import Principal
from services.api.routes.common import JobId, errors
from services.api.routes.download import bundle_key
from services.api.stream import FINAL_TYPES, Listener

router = APIRouter(tags=["stream"])


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
        **errors(401, 404, 503),
    },
)
async def events(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> StreamingResponse:
    """The live event stream of one job (Server-Sent Events)."""
    await ctx.job(job_id, viewer)
    if not ctx.hub.listening:
        raise HTTPException(503, "the live stream is not running in this API process")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_feed(ctx, job_id, viewer), media_type="text/event-stream", headers=headers)


async def _feed(ctx: ApiContext, job_id: str, viewer: Principal) -> AsyncIterator[str]:
    with ctx.hub.listen(job_id) as listener:  # listen first: nothing published meanwhile is missed
        job, _ = await ctx.job(job_id, viewer)
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
    """One Server-Sent Event. Line breaks in the fields are removed and every line of ``data`` gets its
    own ``data:`` prefix, so no value can end the event early or inject another one."""
    head = f"id: {_one_line(event_id)}\n" if event_id else ""
    body = "".join(f"data: {line}\n" for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return f"{head}event: {_one_line(event)}\n{body}\n"


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").replace("\0", "")
