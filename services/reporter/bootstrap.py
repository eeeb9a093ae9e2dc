"""Wires the reporter: one queue, ``reporter``, bound to every event it projects.

Up to ``PREFETCH`` events are in flight at once, so that those waiting while a transaction runs are
written together in the next (``group_commit``); their writes still apply in delivery order, one batch
at a time, and each is acknowledged only once its own writes committed.

The read-model database must be migrated first (``services.runtime.db.migrate.upgrade``); the
composition root does that, since it also builds the repository.
"""

from __future__ import annotations

from contracts.topology import REPORTER_QUEUE
from services.reporter.projections import ReporterDeps, handlers
from services.reporter.settings import ReporterSettings
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.db.repository import ReadModelRepository
from services.runtime.service import RunningService

PREFETCH = 32


async def start(
    bus: Bus, repository: ReadModelRepository, artifacts: ArtifactStore, settings: ReporterSettings
) -> RunningService:
    """Subscribe the reporter's projections; stop them with ``RunningService.stop()``."""
    deps = ReporterDeps(publish=bus.publish, repository=repository, artifacts=artifacts, settings=settings)
    subscription = await bus.subscribe(REPORTER_QUEUE, handlers.routing_keys(), handlers.bind(deps), prefetch=PREFETCH)
    return RunningService(name="reporter", subscriptions=[subscription])
