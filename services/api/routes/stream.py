"""``GET /jobs/{id}/events`` (Server-Sent Events) and ``/jobs/{id}/ws`` (WebSocket): the job's events, live.

The stream opens with a ``snapshot`` (the job as the read model knows it), then carries every
``study.*``, ``trial.*`` (heartbeats and control messages aside), ``artifact.stored`` and
``report.ready`` event of that job only, each as ``event: <type>`` with the event's JSON. It ends
with ``end`` after ``report.ready`` (the ZIP can be downloaded), or at once when the job had
already ended with its results ready. ``lagged`` tells a slow client how many events it missed.

A client that reconnects with ``Last-Event-ID`` (the SSE header, or ``?last_event_id=`` on either
endpoint) first gets the events it missed after that id, from a bounded buffer; ``replay_incomplete``
says the id is older than the buffer (reload the job's state from the REST endpoints). The WebSocket
sends the same items as JSON text frames ``{"event", "id", "data"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

from contracts.events import Event, StudyCompleted
from services.api.auth import ReaderDep
from services.api.context import TERMINAL_STUDY_STATES, ApiContext, ContextDep
from services.api.models import Job
from services.api.principal import Principal
from services.api.routes.common import JobId, errors
from services.api.routes.download import bundle_key
from services.api.stream import FINAL_TYPES, Listener

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])
LastEventId = Annotated[str | None, Query(max_length=128, description="Replay the events after this id first.")]


@dataclass(frozen=True)
class Item:
    """One item of a live feed: an event name, its JSON, and the event's id when it is a bus event."""

    event: str
    data: str
    id: str | None = None


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."},
        **errors(401, 404, 503),
    },
)
async def events(
    job_id: JobId,
    ctx: ContextDep,
    viewer: ReaderDep,
    last_event_id: LastEventId = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID", max_length=128)] = None,
) -> StreamingResponse:
    """The live event stream of one job (Server-Sent Events), resumable with ``Last-Event-ID``."""
    await ctx.job(job_id, viewer)
    if not ctx.hub.listening:
        raise HTTPException(503, "the live stream is not running in this API process")
    await subscribed(ctx)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    feed = feed_items(ctx, job_id, viewer, last_event_id_header or last_event_id)
    return StreamingResponse(_as_sse(feed), media_type="text/event-stream", headers=headers)


async def subscribed(ctx: ApiContext) -> None:
    """The hub subscribed to the bus, or a 503 that says the bus cannot be reached."""
    try:
        await ctx.hub.subscribe()
    except Exception as exc:
        log.warning("the live stream could not subscribe to the event bus: %s", exc)
        raise HTTPException(503, "the live stream cannot reach the event bus right now; retry shortly") from exc


async def _as_sse(items: AsyncIterator[Item | None]) -> AsyncIterator[str]:
    async for item in items:
        yield ": keepalive\n\n" if item is None else sse(item.event, item.data, event_id=item.id)


async def feed_items(
    ctx: ApiContext, job_id: str, viewer: Principal, last_event_id: str | None
) -> AsyncIterator[Item | None]:
    """The items of one job's live feed (``None``: nothing happened for a keepalive interval)."""
    async with ctx.hub.listen(job_id) as listener:  # listen first: nothing published meanwhile is missed
        job, _ = await ctx.job(job_id, viewer)
        yield Item("snapshot", job.model_dump_json())
        replayed: set[str] = set()
        if last_event_id:
            missed = ctx.hub.replay_after(job_id, last_event_id)
            if missed is None:
                yield Item("replay_incomplete", json.dumps({"job_id": job_id, "last_event_id": last_event_id}))
            else:
                for event in missed:
                    replayed.add(event.id)
                    yield Item(event.type, event.model_dump_json(), event.id)
                    if event.type in FINAL_TYPES:
                        yield Item("end", json.dumps({"job_id": job_id, "state": job.state}))
                        return
        if job.state in TERMINAL_STUDY_STATES and await bundle_key(ctx, job_id) is not None:
            yield Item("end", json.dumps({"job_id": job_id, "state": job.state}))
            return
        async for item in _live(ctx, job, listener, replayed):
            yield item


async def _live(ctx: ApiContext, job: Job, listener: Listener, replayed: set[str]) -> AsyncIterator[Item | None]:
    state = job.state
    while True:
        try:
            event: Event | None = await asyncio.wait_for(listener.queue.get(), ctx.settings.stream_keepalive_seconds)
        except TimeoutError:
            yield None
            continue
        if event is None:
            yield Item("end", json.dumps({"job_id": job.job_id, "state": state, "reason": "server shutting down"}))
            return
        dropped = listener.take_dropped()
        if dropped:
            yield Item("lagged", json.dumps({"dropped": dropped}))
        if event.id in replayed:
            continue
        yield Item(event.type, event.model_dump_json(), event.id)
        if isinstance(event, StudyCompleted):
            state = event.data.state.value
        if event.type in FINAL_TYPES:
            yield Item("end", json.dumps({"job_id": job.job_id, "state": state}))
            return


def sse(event: str, data: str, *, event_id: str | None = None) -> str:
    """One Server-Sent Event. Line breaks in the fields are removed and every line of ``data`` gets its
    own ``data:`` prefix, so no value can end the event early or inject another one."""
    head = f"id: {_one_line(event_id)}\n" if event_id else ""
    body = "".join(f"data: {line}\n" for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return f"{head}event: {_one_line(event)}\n{body}\n"


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "").replace("\0", "")
