"""The in-process Bus: asyncio queues with the same routing, ack and dead-letter rules as RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.events import EventEnvelope, encode_event, parse_event
from services.runtime.bus.delivery import (
    DeadLetterHook,
    Outcome,
    ProcessedIds,
    Verdict,
    malformed,
    run_handler,
)
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES, DeadLetter, Handler, topic_matches

log = logging.getLogger(__name__)


@dataclass
class _Message:
    body: bytes
    deliveries: int = 0


@dataclass
class _Queue:
    name: str
    exclusive: bool
    bindings: list[str] = field(default_factory=list)
    pending: asyncio.Queue[_Message] = field(default_factory=asyncio.Queue)
    processed: ProcessedIds = field(default_factory=ProcessedIds)
    dead: list[DeadLetter] = field(default_factory=list)
    consumers: int = 0

    def accepts(self, routing_key: str) -> bool:
        return any(topic_matches(b, routing_key) for b in self.bindings)


class _Consumer:
    def __init__(self, bus: InMemoryBus, queue: _Queue, handler: Handler, prefetch: int, max_deliveries: int):
        self._bus = bus
        self._queue = queue
        self._handler = handler
        self._slots = asyncio.Semaphore(max(prefetch, 1))
        self._max_deliveries = max_deliveries
        self._handlers: set[asyncio.Task[None]] = set()
        self._cancelled = False
        self._task = asyncio.create_task(self._run(), name=f"consumer:{queue.name}")

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            message = await self._queue.pending.get()
            self._bus._in_flight += 1
            task = asyncio.create_task(self._deliver(message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _deliver(self, message: _Message) -> None:
        queue = self._queue
        try:
            message.deliveries += 1
            try:
                event = parse_event(message.body)
            except ValidationError as exc:
                self._settle(message, malformed(exc))
                return
            if not queue.processed.claim(event.id):
                return  # a duplicate: ack it without running the handler
            try:
                outcome = (await run_handler(self._handler, event, queue.name)).after(
                    message.deliveries, self._max_deliveries
                )
            except asyncio.CancelledError:
                queue.processed.release(event.id)
                queue.pending.put_nowait(message)
                raise
            queue.processed.settle(event.id, outcome)
            self._settle(message, outcome)
        finally:
            self._bus._in_flight -= 1
            self._slots.release()
            self._bus._wake_idle_waiters()

    def _settle(self, message: _Message, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.RETRY:
            log.warning("queue %s: handler error, requeueing (%s)", self._queue.name, outcome.reason)
            self._queue.pending.put_nowait(message)
        elif outcome.verdict is Verdict.DEAD and outcome.cause is not None:
            log.error("queue %s: dead-lettering message: %s", self._queue.name, outcome.reason)
            self._queue.dead.append(DeadLetter(self._queue.name, message.body, outcome.reason, message.deliveries))
            if self._bus.on_dead_letter is not None:
                self._bus.on_dead_letter(self._queue.name, outcome.cause, outcome.reason)

    async def cancel(self) -> None:
        """Stop taking messages, wait for running handlers, and detach from the queue. Idempotent."""
        if self._cancelled:
            return
        self._cancelled = True
        self._bus._forget(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        self._queue.consumers -= 1
        if (
            self._queue.exclusive
            and self._queue.consumers == 0
            and self._bus._queues.get(self._queue.name) is self._queue
        ):
            del self._bus._queues[self._queue.name]


class InMemoryBus:
    """A Bus for one process. Safe to use from one event loop; publish from threads via the loop."""

    def __init__(self, *, on_dead_letter: DeadLetterHook | None = None) -> None:
        """``on_dead_letter(queue, cause, reason)`` is called for every message moved to a dead-letter queue."""
        self.on_dead_letter = on_dead_letter
        self._queues: dict[str, _Queue] = {}
        self._consumers: list[_Consumer] = []
        self._in_flight = 0
        self._idle = asyncio.Event()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.cancel()

    async def publish(self, event: EventEnvelope) -> None:
        await self.publish_raw(event.type, encode_event(event))

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        for queue in self._queues.values():
            if queue.accepts(routing_key):
                queue.pending.put_nowait(_Message(body))

    async def declare(self, queues: Mapping[str, Sequence[str]]) -> None:
        for queue, bindings in queues.items():
            self._declared(queue, bindings, exclusive=False)

    async def subscribe(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 1,
        exclusive: bool = False,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> _Consumer:
        declared = self._declared(queue, bindings, exclusive=exclusive)
        declared.consumers += 1
        consumer = _Consumer(self, declared, handler, prefetch, max_deliveries)
        self._consumers.append(consumer)
        return consumer

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        declared = self._queues.get(queue)
        return list(declared.dead) if declared else []

    def _declared(self, queue: str, bindings: Sequence[str], *, exclusive: bool) -> _Queue:
        declared = self._queues.get(queue)
        if declared is None:
            declared = self._queues[queue] = _Queue(name=queue, exclusive=exclusive)
        for binding in bindings:
            if binding not in declared.bindings:
                declared.bindings.append(binding)
        return declared

    def _forget(self, consumer: _Consumer) -> None:
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    def is_idle(self) -> bool:
        return self._in_flight == 0 and all(q.pending.empty() for q in self._queues.values())

    async def wait_idle(self) -> None:
        """Wait until every queue is empty and no handler runs (tests and the embedded run)."""
        while not self.is_idle():
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=0.05)

    def _wake_idle_waiters(self) -> None:
        if self._in_flight == 0:
            self._idle.set()
