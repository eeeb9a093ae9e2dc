"""``/jobs/{id}/ws``: the job's live events over a WebSocket, the same items as the SSE stream.

Authentication: ``Authorization: Bearer <token>`` on the upgrade request, or (for browsers, which
cannot set that header) a first text frame ``{"token": "<token>"}``. Every frame the server sends is
``{"event": <name>, "id": <event id or null>, "data": <JSON>}``; a refused socket is closed with code
4401 (token), 4404 (unknown job) or 1013 (no live stream in this process) and a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials

from services.api.auth import authenticate
from services.api.context import ApiContext
from services.api.principal import ANONYMOUS_READER, Principal
from services.api.routes.common import JobId
from services.api.routes.stream import feed_items, subscribed

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])
TOKEN_FRAME_SECONDS = 10.0
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 429: 4429}


@router.websocket("/jobs/{job_id}/ws")
async def live_socket(
    websocket: WebSocket,
    job_id: JobId,
    last_event_id: Annotated[str | None, Query(max_length=128)] = None,
) -> None:
    ctx: ApiContext = websocket.app.state.hpo
    await websocket.accept()
    try:
        viewer = await _viewer(ctx, websocket)
        await ctx.job(job_id, viewer)
    except HTTPException as exc:
        await websocket.close(code=CLOSE_CODES.get(exc.status_code, 1008), reason=str(exc.detail)[:120])
        return
    except WebSocketDisconnect:
        return
    if not ctx.hub.listening:
        await websocket.close(code=1013, reason="the live stream is not running in this API process")
        return
    try:
        await subscribed(ctx)
    except HTTPException as exc:
        await websocket.close(code=1013, reason=str(exc.detail)[:120])
        return
    feed = feed_items(ctx, job_id, viewer, last_event_id)
    try:
        async for item in feed:
            if item is None:
                await websocket.send_text(json.dumps({"event": "keepalive", "id": None, "data": None}))
                continue
            frame = {"event": item.event, "id": item.id, "data": json.loads(item.data)}
            await websocket.send_text(json.dumps(frame))
        await websocket.close(code=1000)
    except (WebSocketDisconnect, RuntimeError):
        log.debug("live socket of job %s closed by the client", job_id)


async def _viewer(ctx: ApiContext, websocket: WebSocket) -> Principal:
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        if not ctx.settings.auth_enabled:
            return await authenticate(ctx, websocket, None)
        if ctx.settings.open_reads:
            return ANONYMOUS_READER
        token = await _token_frame(websocket)
        scheme = "Bearer"
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if token else None
    return await authenticate(ctx, websocket, credentials)


async def _token_frame(websocket: WebSocket) -> str:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), TOKEN_FRAME_SECONDS)
    except TimeoutError:
        raise HTTPException(401, 'no token: send "Authorization: Bearer <token>" or a first frame {"token"}') from None
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    token = message.get("token") if isinstance(message, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise HTTPException(401, 'the first frame must be {"token": "<token>"}')
    return token
