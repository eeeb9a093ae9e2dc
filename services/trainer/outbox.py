"""Ordered, non-blocking publishing for the training thread.

The training thread hands each event (trial started, epoch completed) to the outbox and goes on
training; one task on the event loop publishes them in order. Training never waits for a broker's
publisher confirm, and a slow or reconnecting broker delays the events, not the epochs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from contracts.events import EventEnvelope

Publish = Callable[[EventEnvelope], Awaitable[None]]


class Outbox:
    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[EventEnvelope] = asyncio.Queue()
        self._error: BaseException | None = None
        self._pump = self._loop.create_task(self._run(), name="trainer-outbox")

    def put_threadsafe(self, event: EventEnvelope) -> None:
        """Queue ``event`` from any thread; it is published after every event queued before it."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def drain(self) -> None:
        """Wait until everything queued so far is published, stop the pump, and re-raise the first
        failure (the trial's request is then retried rather than reported with events missing)."""
        await self._queue.join()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        if self._error is not None:
            raise self._error

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                if self._error is None:
                    await self._publish(event)
            except Exception as exc:  # kept for drain(): the training thread must not block on it
                self._error = exc
            finally:
                self._queue.task_done()
