"""Watching a bus: every event a test queue receives, in arrival order."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.events import Event
from services.runtime.bus import Bus


async def collect_events(bus: Bus, queue: str, bindings: Sequence[str], *, prefetch: int = 1) -> list[Event]:
    """Subscribe ``queue`` (bound to ``bindings``) with a handler that appends every event to the
    returned list, which grows as events arrive."""
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    await bus.subscribe(queue, bindings, record, prefetch=prefetch)
    return seen
