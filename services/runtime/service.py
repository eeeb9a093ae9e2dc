"""A started service: its subscriptions and background tasks, stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from services.runtime.bus.port import Subscription


@dataclass
class RunningService:
    """What a service's ``bootstrap.start(...)`` returns."""

    name: str
    subscriptions: list[Subscription] = field(default_factory=list)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for subscription in self.subscriptions:
            await subscription.cancel()
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.subscriptions.clear()
        self.background.clear()
