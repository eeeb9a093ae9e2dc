"""Wires the health service: one queue, ``health``, bound to the trial events it handles."""

from __future__ import annotations

from contracts.topology import HEALTH_QUEUE
from services.health.handlers import HealthDeps, handlers
from services.health.settings import HealthSettings
from services.health.state import HealthState
from services.runtime.bus.port import Bus
from services.runtime.observability.health import HealthMetrics
from services.runtime.service import RunningService


async def start(bus: Bus, settings: HealthSettings, metrics: HealthMetrics | None = None) -> RunningService:
    """Subscribe the health handlers (prefetch 1, so each trial's events are handled in order)."""
    deps = HealthDeps(
        publish=bus.publish,
        weights=settings.weights,
        state=HealthState(max_trials=settings.max_tracked_trials),
        metrics=metrics or HealthMetrics(),
    )

    subscription = await bus.subscribe(HEALTH_QUEUE, handlers.routing_keys(), handlers.bind(deps), prefetch=1)
    return RunningService(name="health", subscriptions=[subscription])
