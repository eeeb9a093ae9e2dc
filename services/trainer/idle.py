"""When a trainer is idle: no trial running, and for how long (a rented pod stops itself when idle)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Activity:
    running: int = 0
    since: float = field(default_factory=time.monotonic)
    trials: int = 0

    def begin(self) -> None:
        self.running += 1
        self.trials += 1

    def end(self) -> None:
        self.running -= 1
        self.since = time.monotonic()

    def idle_seconds(self) -> float:
        return 0.0 if self.running else time.monotonic() - self.since


async def exit_when_idle(activity: Activity, limit_seconds: float, done: asyncio.Event) -> None:
    """Set ``done`` once no trial ran for ``limit_seconds``."""
    while True:
        await asyncio.sleep(min(max(limit_seconds / 4, 0.05), 5.0))
        if activity.idle_seconds() >= limit_seconds:
            log.info("no trial for %.0f s (after %d trials): exiting", limit_seconds, activity.trials)
            done.set()
            return
