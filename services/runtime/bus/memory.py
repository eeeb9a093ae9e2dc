"""The in-process Bus: asyncio queues with the same routing, ack and dead-letter rules as RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.events import EventEnvelope, encode_event, parse_event
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES, DeadLetter, Handler, topic_matches
from services.runtime.errors import FatalError, TrialFailure

log = logging.getLogger(__name__)

_PROCESSED_IDS_KEPT = 100_000


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
    processed: OrderedDict[str, None] = field(default_factory=OrderedDict)
    in_flight_ids: set[str] = field(default_factory=set)
    dead: list[DeadLetter] = field(default_factory=list)
    consumers: int = 0

    def accepts(self, routing_key: str) -> bool:
        return any(topic_matches(b, routing_key) for b in self.bindings)

    def remember(self, event_id: str) -> None:
        self.processed[event_id] = None
        while len(self.processed) > _PROCESSED_IDS_KEPT:
            self.processed.popitem(last=False)


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
        claimed: str | None = None  # the event id this delivery put in in_flight_ids, if any
        try:
            message.deliveries += 1
            try:
                event = parse_event(message.body)
            except ValidationError as exc:
                self._dead_letter(message, f"malformed message: {_first_error(exc)}")
                return
            event_id = event.id
            if event_id in queue.processed or event_id in queue.in_flight_ids:
                return  # a duplicate: ack it without running the handler
            queue.in_flight_ids.add(event_id)
            claimed = event_id
            try:
                await self._handler(event)
            except TrialFailure as exc:
                log.warning("queue %s: trial failure handled as final: %s", queue.name, exc)
                queue.remember(event_id)
            except FatalError as exc:
                self._dead_letter(message, f"fatal: {exc}")
            except asyncio.CancelledError:
                queue.pending.put_nowait(message)
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if message.deliveries >= self._max_deliveries:
                    self._dead_letter(message, f"gave up after {message.deliveries} deliveries: {reason}")
                else:
                    log.warning("queue %s: handler error, requeueing (%s)", queue.name, reason)
                    queue.pending.put_nowait(message)
            else:
                queue.remember(event_id)
        finally:
            if claimed is not None:
                queue.in_flight_ids.discard(claimed)
            self._bus._in_flight -= 1
            self._slots.release()
            self._bus._wake_idle_waiters()

    def _dead_letter(self, message: _Message, reason: str) -> None:
        log.error("queue %s: dead-lettering message: %s", self._queue.name, reason)
        self._queue.dead.append(DeadLetter(self._queue.name, message.body, reason, message.deliveries))

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


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


class InMemoryBus:
    """A Bus for one process. Safe to use from one event loop; publish from threads via the loop."""

    def __init__(self) -> None:
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
        await self.publish_raw(event.type, encode_event(event))  # type: ignore[attr-defined]

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
