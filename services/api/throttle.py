"""A brake on guessing tokens: wrong tokens per client address over a sliding minute."""

from __future__ import annotations

import time
from collections import deque

THROTTLE_WINDOW_SECONDS = 60.0
MAX_TRACKED_CLIENTS = 10_000


class FailedAttempts:
    """Past ``limit`` wrong tokens within the window, a client waits until its oldest one ages out."""

    def __init__(self, limit: int, window_seconds: float = THROTTLE_WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def blocked_for(self, client: str, now: float | None = None) -> float:
        """Seconds ``client`` must wait before its next attempt counts (0: go ahead)."""
        now = time.monotonic() if now is None else now
        recent = self._recent(client, now)
        return 0.0 if len(recent) < self._limit else max(0.0, recent[0] + self._window - now)

    def record(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent(client, now).append(now)
        if len(self._failures) > MAX_TRACKED_CLIENTS:
            for quiet in [c for c, times in self._failures.items() if not times]:
                del self._failures[quiet]

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
