"""A started service: its subscriptions and background tasks, stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.runtime.bus.port import Subscription


@dataclass
class RunningService:
    """What a service's ``bootstrap.start(...)`` returns."""

    name: str
    subscriptions: list[Subscription] = field(default_factory=list)
    background: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run last, after consuming stopped (e.g. a trainer's child process)."""
    stopping: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run first, before consuming stops and running handlers are waited for (a served trainer hands its
    running trial back here)."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the service ends by itself (a trainer idle past its limit): its process exits 0."""

    async def stop(self) -> None:
        for announce in self.stopping:
            await announce()
        self.stopping.clear()
        for subscription in self.subscriptions:
            await subscription.cancel()
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in self.closers:
            await close()
        self.subscriptions.clear()
        self.background.clear()
        self.closers.clear()
