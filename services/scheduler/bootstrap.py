"""Wires the scheduler: one queue bound to the events it handles, plus the lease checker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from contracts.events import Event
from contracts.topology import SCHEDULER_QUEUE
from services.runtime.bus.port import Bus
from services.runtime.observability.studies import StudyMetrics
from services.runtime.service import RunningService
from services.scheduler.handlers import SchedulerDeps, expire_leases, handlers, resume_studies
from services.scheduler.leases import LeaseTable
from services.scheduler.settings import SchedulerSettings
from services.scheduler.study_runner import open_storage

log = logging.getLogger(__name__)


@dataclass
class RunningScheduler(RunningService):
    deps: SchedulerDeps = field(kw_only=True)
    """What the scheduler holds in memory (its running studies, leases)."""


async def start(bus: Bus, settings: SchedulerSettings, metrics: StudyMetrics | None = None) -> RunningScheduler:
    deps = SchedulerDeps(
        publish=bus.publish,
        settings=settings,
        leases=LeaseTable(settings.lease_seconds),
        metrics=metrics or StudyMetrics(),
    )
    lock = asyncio.Lock()

    async def dispatch(event: Event) -> None:
        if handlers.handles(event.type):
            async with lock:  # handlers and the lease check never interleave
                await handlers.dispatch(event, deps)

    async def check_leases() -> None:
        while True:
            await asyncio.sleep(settings.lease_check_seconds)
            async with lock:
                try:
                    await expire_leases(deps)
                except Exception:
                    log.exception("lease check failed")

    await asyncio.to_thread(open_storage, settings.storage_url)  # connects and creates Optuna's tables once
    if settings.resume_unfinished:
        async with lock:
            await resume_studies(deps)
    subscription = await bus.subscribe(SCHEDULER_QUEUE, handlers.routing_keys(), dispatch, prefetch=1)
    service = RunningScheduler(name="scheduler", subscriptions=[subscription], deps=deps)
    service.background.append(asyncio.create_task(check_leases(), name="scheduler-leases"))
    return service
