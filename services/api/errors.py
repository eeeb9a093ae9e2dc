"""Errors as JSON a person can act on, never a traceback; and the request-body size limit."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.db.repository import RepositoryError

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RepositoryError, _repository_error)
    app.add_exception_handler(Exception, _unexpected)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # registered for that class only
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # registered for that class only
    return JSONResponse({"detail": [describe(error) for error in exc.errors()]}, status_code=422)


async def _repository_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("read-model database unavailable: %s", exc)
    return JSONResponse({"detail": "the read-model database is unavailable; try again shortly"}, status_code=503)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)


def describe(error: Any) -> dict[str, Any]:
    """One validation error: where (``loc``/``field``), what (``msg``) and, for choices, ``allowed``."""
    loc = [str(p) for p in error.get("loc", ())]
    field = ".".join(p for p in loc if p not in ("body", "query", "path", "header"))
    out: dict[str, Any] = {
        "loc": loc,
        "field": field or "body",
        "msg": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        "type": str(error.get("type", "value_error")),
    }
    ctx = error.get("ctx") or {}
    expected = ctx.get("expected")
    if isinstance(expected, str):
        out["allowed"] = [part.strip().strip("'") for part in expected.replace(" or ", ",").split(",") if part.strip()]
    return out


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before the app reads it whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _reply(send, 400, "invalid Content-Length header")
            return
        if declared is not None and declared > self.max_bytes:
            await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, f"request body larger than {self.max_bytes} bytes")


class _TooLarge(StarletteHTTPException):
    """Raised while the body streams in; FastAPI passes HTTP exceptions through to the handlers."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
