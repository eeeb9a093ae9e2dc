"""Wires the scheduler: one queue bound to the events it handles, plus the lease checker."""

from __future__ import annotations

import asyncio
import logging

from contracts.events import Event
from contracts.topology import DURABLE_QUEUES, SCHEDULER_QUEUE
from services.runtime.bus.port import Bus
from services.runtime.service import RunningService
from services.scheduler.handlers import HANDLERS, SchedulerDeps, expire_leases, resume_studies
from services.scheduler.leases import LeaseTable
from services.scheduler.settings import SchedulerSettings
from services.scheduler.study_runner import open_storage

log = logging.getLogger(__name__)


async def start(bus: Bus, settings: SchedulerSettings) -> RunningService:
    deps = SchedulerDeps(publish=bus.publish, settings=settings, leases=LeaseTable(settings.lease_seconds))
    lock = asyncio.Lock()

    async def dispatch(event: Event) -> None:
        handler = HANDLERS.get(event.type)
        if handler is not None:
            async with lock:
                await handler(event, deps)

    async def check_leases() -> None:
        while True:
            await asyncio.sleep(settings.lease_check_seconds)
            async with lock:
                try:
                    await expire_leases(deps)
                except Exception:
                    log.exception("lease check failed")

    await asyncio.to_thread(open_storage, settings.optuna_storage)  # connects and creates Optuna's tables once
    if settings.resume_unfinished:
        async with lock:
            await resume_studies(deps)
    subscription = await bus.subscribe(SCHEDULER_QUEUE, DURABLE_QUEUES[SCHEDULER_QUEUE], dispatch, prefetch=1)
    service = RunningService(name="scheduler", subscriptions=[subscription])
    service.background.append(asyncio.create_task(check_leases(), name="scheduler-leases"))
    return service
