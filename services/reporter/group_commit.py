"""Group commit: the reporter's writes, as many events to a transaction as are waiting.

Every projection hands its writes and its event id to ``GroupCommit.run_once``. One drain loop takes
whatever is waiting, in the order it arrived, and applies it on a worker thread in one transaction (each
event's id recorded with its own writes, ``ReadModelRepository.run_batch``), then answers every caller.
A busy reporter thus pays one transaction, one commit and one thread hand-off for a handful of events
instead of one each: events arrive in bursts (a trial's last epoch, its completion and its final
assessment come within milliseconds), and an idle writer waits ``LINGER_SECONDS`` (10 ms) for the rest of
a burst before it starts.

Each message is still acknowledged only after its own writes committed, and a crash loses no event
(nothing of an unfinished batch is committed, so all of it is redelivered). A batch whose transaction
fails is applied again one event per transaction, so one bad event (stale, refused, malformed) fails
alone and the others land. Writes run one batch at a time, in arrival order: an event is applied after
every event delivered before it (``study.completed`` reads the results only after the trials' writes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.runtime.db.repository import ReadModelRepository

log = logging.getLogger(__name__)

MAX_BATCH = 64
"""Events applied in one transaction at most (the reporter's prefetch bounds what can wait)."""
LINGER_SECONDS = 0.01
"""How long an idle writer waits for more events before it starts a transaction: a trial's last epoch, its
completion and its final assessment arrive within a few milliseconds and then share one."""

Work = Callable[[ReadModelRepository], Any]


@dataclass(eq=False)
class _Pending:
    event_id: str | None
    """None: writes that record no event id (they return what ``work`` returns)."""
    work: Work
    answer: asyncio.Future[Any]


class GroupCommit:
    """Applies waiting writes a batch per transaction, one batch at a time."""

    def __init__(
        self,
        repository: ReadModelRepository,
        consumer: str,
        max_batch: int = MAX_BATCH,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._repository = repository
        self._consumer = consumer
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._waiting: list[_Pending] = []
        self._drain: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed or tried (for tests and benchmarks: events / batches is the batch size)."""

    async def run_once(self, event_id: str, work: Work) -> bool:
        """``ReadModelRepository.run_once``, batched: False, applying nothing, when the event was processed."""
        return bool(await self._submit(event_id, work))

    async def run(self, work: Work) -> Any:
        """Writes that record no event id, in order with the events before them; returns what ``work`` returns."""
        return await self._submit(None, work)

    async def _submit(self, event_id: str | None, work: Work) -> Any:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Pending(event_id, work, answer))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_waiting(), name=f"group-commit:{self._consumer}")
        return await answer

    async def _drain_waiting(self) -> None:
        if self._linger > 0:
            await asyncio.sleep(self._linger)
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            self.batches += 1
            try:
                outcomes = await asyncio.to_thread(self._apply, batch)
            except asyncio.CancelledError:  # stopped while a batch ran: its callers are requeued, nothing is lost
                for pending in (*batch, *self._waiting):
                    pending.answer.cancel()
                raise
            for pending, (result, error) in zip(batch, outcomes, strict=True):
                if pending.answer.done():
                    continue
                if error is not None:
                    pending.answer.set_exception(error)
                else:
                    pending.answer.set_result(result)

    def _apply(self, batch: list[_Pending]) -> list[tuple[Any, Exception | None]]:
        """Every item's (result, error): the whole batch in one transaction, or item by item if that fails."""
        work = [(pending.event_id, pending.work) for pending in batch]
        if len(batch) > 1:
            try:
                return [(result, None) for result in self._repository.run_batch(self._consumer, work)]
            except Exception as exc:  # one of them failed: each on its own, so only that one fails
                log.debug("a batch of %d writes failed (%s); applying them one by one", len(batch), exc)
        outcomes: list[tuple[Any, Exception | None]] = []
        for item in work:
            try:
                outcomes.append((self._repository.run_batch(self._consumer, [item])[0], None))
            except Exception as exc:
                outcomes.append((None, exc))
        return outcomes
