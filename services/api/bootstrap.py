"""Serves the API with uvicorn inside the caller's event loop, next to the live-event hub.

The hub subscribes here (not in the ASGI lifespan, which is off) so that a broker or port problem
is an exception of ``start`` rather than an exit of the server task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from services.api.app import create_app
from services.api.datasets import DatasetCatalog
from services.api.settings import ApiSettings
from services.api.stream import EventHub
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.db.repository import ReadModelRepository
from services.runtime.errors import UserInputError
from services.runtime.service import RunningService

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass
class RunningApi(RunningService):
    """The running API; ``port`` is where it listens (useful with ``HPO_API_PORT=0``)."""

    host: str = "127.0.0.1"
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class _Server(uvicorn.Server):
    """The caller owns the signals (``hpo serve`` stops every part of the process together)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start(
    bus: Bus,
    repository: ReadModelRepository,
    artifacts: ArtifactStore,
    settings: ApiSettings,
    datasets_catalog: DatasetCatalog | None = None,
) -> RunningApi:
    """Subscribe the hub, listen on ``settings.host:settings.port`` and serve until ``stop()``."""
    hub = EventHub(queue_size=settings.stream_queue_size, idle_seconds=settings.stream_idle_seconds)
    app = create_app(bus, repository, artifacts, settings, datasets_catalog=datasets_catalog, hub=hub)
    sock = _bind(settings.host, settings.port)
    await hub.start(bus)
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    server = _Server(config)

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits on startup failures; keep it inside this task
            raise RuntimeError(f"the API server stopped during startup (exit {exc.code})") from None

    task = asyncio.create_task(serve(), name="api:http")
    try:
        await _wait_started(server, task)
    except BaseException:
        await hub.stop()
        sock.close()
        raise
    host, port = sock.getsockname()[:2]

    async def stop_server() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)
        if not task.done():
            task.cancel()
        sock.close()

    log.info("api: listening on http://%s:%d (docs at /docs)", host, port)
    return RunningApi(name="api", subscriptions=[hub], closers=[stop_server], host=str(host), port=int(port))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, Nagle + delayed ACK add ~40 ms to each response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserInputError(f"the API cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _wait_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the API server ended before it started")
        if loop.time() > deadline:
            task.cancel()
            raise RuntimeError("the API server did not start in time")
        await asyncio.sleep(0.02)
