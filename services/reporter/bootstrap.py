"""Wires the reporter: one queue, ``reporter``, bound to every event it projects.

Up to ``PREFETCH`` events are in flight at once, so that those waiting while a transaction runs are
written together in the next (``group_commit``); their writes still apply in delivery order, one batch
at a time, and each is acknowledged only once its own writes committed.

The read-model database must be migrated first (``services.runtime.db.migrate.upgrade``); the
composition root does that, since it also builds the repository.
"""

from __future__ import annotations

import asyncio
from functools import partial

from contracts.topology import REPORTER_QUEUE
from services.reporter.plots.ahead import TrialPlotsAhead
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
    ahead = None
    if settings.plots_ahead_dir is not None:
        ahead = TrialPlotsAhead(
            settings.plots_ahead_dir, repository, dpi=settings.plot_dpi, trial_plots=settings.trial_plots
        )
    deps = ReporterDeps(
        publish=bus.publish, repository=repository, artifacts=artifacts, settings=settings, plots_ahead=ahead
    )
    subscription = await bus.subscribe(REPORTER_QUEUE, handlers.routing_keys(), handlers.bind(deps), prefetch=PREFETCH)
    service = RunningService(name="reporter", subscriptions=[subscription])
    if ahead is not None:
        service.closers.append(partial(asyncio.to_thread, ahead.close))  # stop drawing, remove the drawings
    return service
