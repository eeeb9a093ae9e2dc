"""The FastAPI application, built from injected ports (``create_app``): no transport of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from services.api import docs, errors
from services.api.context import ApiContext
from services.api.datasets import ContractsCatalog, DatasetCatalog
from services.api.routes import datasets, download, health, jobs, panel, socket, stream, trials
from services.api.routes.common import errors as errors_of
from services.api.settings import ApiSettings
from services.api.stream import EventHub
from services.api.throttle import FailedAttempts
from services.api.tokens import token_problem
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.tokens import TokenRepository
from services.runtime.errors import UserInputError

DESCRIPTION = """\
Health-aware hyperparameter optimization over HTTP. `POST /optimize` starts a study (the job),
`GET /jobs/{id}/events` streams its trials, epochs, health and alerts as Server-Sent Events, and
`GET /jobs/{id}/download` returns the results ZIP once the report is built.

Every endpoint but `/health` needs `Authorization: Bearer <token>`: the admin token
(`HPO_API_TOKEN`) or a named token (`hpo tokens create NAME --role read|submit|admin`). A `submit`
token sees, stops and downloads its own jobs only. Reads are open only when the server runs with
`HPO_API_OPEN_READS=true`.
"""


def create_app(
    bus: Bus,
    repository: ReadModelRepository,
    artifacts: ArtifactStore,
    settings: ApiSettings,
    *,
    datasets_catalog: DatasetCatalog | None = None,
    hub: EventHub | None = None,
) -> FastAPI:
    """The API over the given ports. Its lifespan subscribes the live-event hub to ``bus``.

    Refuses (``UserInputError``) a missing or well-known token outside development mode.
    """
    if not settings.development:
        problem = token_problem(settings.token)
        if problem:
            raise UserInputError(f"the API refuses to start: {problem} (HPO_API_DEVELOPMENT=true allows it)")
    ctx = ApiContext(
        bus=bus,
        repository=repository,
        artifacts=artifacts,
        settings=settings,
        datasets=datasets_catalog or ContractsCatalog(),
        hub=hub or EventHub(queue_size=settings.stream_queue_size, idle_seconds=settings.stream_idle_seconds),
        tokens=TokenRepository(repository.engine),
        failed_attempts=FailedAttempts(settings.failed_auth_limit),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started_here = not ctx.hub.listening
        if started_here:
            await ctx.hub.start(bus)
        try:
            yield
        finally:
            if started_here:
                await ctx.hub.stop()

    app = FastAPI(
        title="hpo",
        version=health.VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=errors_of(400, 413, 429),  # any route: a malformed or oversized request, too many wrong tokens
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app, "hpo")
    app.state.hpo = ctx
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    for module in (health, datasets, panel, jobs, trials, stream, socket, download):
        app.include_router(module.router)
    return app
