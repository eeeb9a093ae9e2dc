"""The RabbitMQ Bus (aio-pika), with the semantics of ``port.py`` and the in-process bus.

Topology, all on one robust connection (``connect_robust`` reconnects and re-declares by itself):

- one durable topic exchange (``hpo.events`` unless the constructor names another); an event is
  published under its ``type`` as routing key, persistent, with ``message_id`` = event id,
  ``type`` = event type and a JSON content type;
- one queue per ``subscribe(queue, ...)`` name, bound to the exchange with the given patterns:
  durable, or exclusive and auto-delete for ``exclusive=True`` (gone with its last consumer, or
  with the connection). Each ``subscribe`` call opens its own channel, so ``prefetch`` (basic.qos)
  is per consumer; several consumers of one queue compete;
- beside each queue, its dead-letter queue ``<queue>.dead`` (durable, or exclusive like its
  queue), fed through the default exchange. A dead letter keeps the original body and properties
  and adds the headers ``x-hpo-reason``, ``x-hpo-deliveries`` and ``x-hpo-queue``.

Publishing uses one channel in publisher-confirm mode: ``publish`` returns once the broker has
confirmed the message, and concurrent publishes wait for their confirms independently.

Delivery counting. Classic queues do not count deliveries, so the bus does: when a handler fails
with a retryable error, the consumer publishes a copy of the message to the back of the same queue
(default exchange, routing key = queue name) with ``x-hpo-deliveries`` incremented, waits for the
confirm, then acks the original. The copy goes to the back of the queue, as in the in-process bus.
A delivery whose count reaches ``max_deliveries``, a ``FatalError`` and an undecodable body are
published to ``<queue>.dead`` (confirmed) and then acked. A message the broker redelivers (its
consumer died or lost its connection before settling it) counts as one more delivery: it is copied
to the back of the queue with the count incremented before any handler sees it again, so a message
that crashes every process that handles it is dead-lettered after ``max_deliveries``.

Idempotency. Each bus remembers, per queue, the ids of the last events it handled (and those being
handled), and acks a duplicate without calling the handler. That covers redelivery within one
process. Exactly-once effects across processes are the handlers' job (idempotency keys in the
database).

``dead_letters(queue)`` reads ``<queue>.dead`` with unacknowledged basic.get on a temporary channel
and closes that channel, which puts the messages back in their places: reading does not consume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from contracts.events import EventEnvelope, encode_event, parse_event
from services.runtime.bus.delivery import (
    REASON_MAX_CHARS,
    DeadLetterHook,
    Outcome,
    ProcessedIds,
    Verdict,
    malformed,
    run_handler,
)
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES, DeadLetter, Handler
from services.runtime.errors import RetryableError

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "hpo.events"
DELIVERIES_HEADER = "x-hpo-deliveries"
REASON_HEADER = "x-hpo-reason"
QUEUE_HEADER = "x-hpo-queue"
JSON = "application/json"

_T = TypeVar("_T")

_PUBLISH_ATTEMPTS = 3
_RECONNECT_WAIT_S = 10.0
# Broker and connection failures (OSError covers connection errors and timeouts; a closed channel is a RuntimeError).
_TRANSPORT_ERRORS = (aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, OSError)


def dead_letter_queue(queue: str) -> str:
    """The name of the queue holding ``queue``'s dead letters."""
    return f"{queue}.dead"


@dataclass
class _QueueState:
    """What this process knows about one queue: its local consumers and the event ids they handled."""

    exclusive: bool
    consumers: int = 0
    processed: ProcessedIds = field(default_factory=ProcessedIds)


class _Consumer:
    """One consumer on its own channel; also the ``Subscription`` that ``subscribe`` returns."""

    def __init__(
        self,
        bus: AmqpBus,
        queue: AbstractQueue,
        state: _QueueState,
        handler: Handler,
        max_deliveries: int,
    ) -> None:
        self._bus = bus
        self._queue = queue
        self._state = state
        self._handler = handler
        self._max_deliveries = max_deliveries
        self._tag: str | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._stopped: asyncio.Task[None] | None = None

    @property
    def queue_name(self) -> str:
        return self._queue.name

    async def start(self) -> None:
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def cancel(self) -> None:
        """Stop taking messages, let running handlers finish, close the channel. Idempotent."""
        if self._stopped is None:
            self._stopped = asyncio.create_task(self._stop(), name=f"stop-consumer:{self.queue_name}")
        await asyncio.shield(self._stopped)

    async def _stop(self) -> None:
        self._stopping = True
        self._bus._forget(self)
        if self._tag is not None:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await self._queue.cancel(self._tag)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        with contextlib.suppress(*_TRANSPORT_ERRORS):
            await self._queue.channel.close()
        await self._bus._release(self.queue_name, self._state)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await message.reject(requeue=True)
            return
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self._deliver(message)
        except (*_TRANSPORT_ERRORS, RetryableError) as exc:
            log.warning("queue %s: could not settle a message, requeueing it (%s)", self.queue_name, exc)
            await _requeue(message)
        except Exception:
            log.exception("queue %s: unexpected error settling a message, requeueing it", self.queue_name)
            await _requeue(message)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        deliveries = _deliveries_so_far(message) + 1
        try:
            event = parse_event(message.body)
        except ValidationError as exc:
            await self._settle(message, malformed(exc), deliveries)
            return
        if not self._state.processed.claim(event.id):
            await message.ack()  # a duplicate: acked without running the handler
            return
        if message.redelivered:
            # Given out before and never settled: its consumer died (killed for memory, say) or lost its
            # connection. The delivery is counted durably (a copy with the count goes to the back of the
            # queue) before the handler runs again, so a message that kills every consumer ends in the
            # dead-letter queue instead of being redelivered forever.
            self._state.processed.release(event.id)
            unsettled = Outcome(Verdict.RETRY, "delivered before and never settled: its consumer died or disconnected")
            await self._settle(message, unsettled.after(deliveries, self._max_deliveries), deliveries, wait=False)
            return
        outcome = Outcome(Verdict.RETRY, "interrupted")
        try:
            outcome = (await run_handler(self._handler, event, self.queue_name)).after(deliveries, self._max_deliveries)
        finally:
            self._state.processed.settle(event.id, outcome)
        await self._settle(message, outcome, deliveries)

    async def _settle(
        self, message: AbstractIncomingMessage, outcome: Outcome, deliveries: int, *, wait: bool = True
    ) -> None:
        if outcome.verdict is Verdict.ACK:
            await message.ack()
        elif outcome.verdict is Verdict.DEAD:
            await self._dead_letter(message, outcome, deliveries)
        else:
            delay = self._bus.retry_delay(deliveries) if wait else 0.0
            log.warning("queue %s: retrying in %.1fs (%s)", self.queue_name, delay, outcome.reason)
            await asyncio.sleep(delay)  # holds this consumer's prefetch slot: an outage pauses consumption
            await self._bus._send_to_queue(self.queue_name, _copy(message, {DELIVERIES_HEADER: deliveries}))
            await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, outcome: Outcome, deliveries: int) -> None:
        log.error("queue %s: dead-lettering message: %s", self.queue_name, outcome.reason)
        headers = {
            REASON_HEADER: outcome.reason[:REASON_MAX_CHARS],
            DELIVERIES_HEADER: deliveries,
            QUEUE_HEADER: self.queue_name,
        }
        await self._bus._send_to_queue(dead_letter_queue(self.queue_name), _copy(message, headers))
        await message.ack()
        if self._bus.on_dead_letter is not None and outcome.cause is not None:
            self._bus.on_dead_letter(self.queue_name, outcome.cause, outcome.reason)


class AmqpBus:
    """A Bus over RabbitMQ. Use from one event loop; ``start`` before anything else."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        queue_prefix: str = "",
        retry_backoff_seconds: float = 1.0,
        max_retry_delay_seconds: float = 15.0,
        on_dead_letter: DeadLetterHook | None = None,
        heartbeat_seconds: int = 5,
    ) -> None:
        """``queue_prefix`` is put before every queue name: deployments (or test runs) sharing one broker
        keep apart by using their own exchange and prefix. A failed delivery is retried after
        ``retry_backoff_seconds x 2^(n-1)`` (at most ``max_retry_delay_seconds``), so that a database
        restart pauses a consumer instead of exhausting its deliveries into the dead-letter queue.
        ``on_dead_letter(queue, cause, reason)`` is called for every message moved to a dead-letter queue.
        ``heartbeat_seconds`` is the AMQP heartbeat: the broker drops the connection of a process that misses
        two (a frozen trainer, say), and hands the messages it held unacknowledged, a trial it had not
        started among them, to another consumer: within about 10 s by default instead of RabbitMQ's 60 s."""
        self._heartbeat = heartbeat_seconds
        self._url = url
        self.on_dead_letter = on_dead_letter
        self._retry_backoff = retry_backoff_seconds
        self._max_retry_delay = max_retry_delay_seconds
        self._exchange_name = exchange
        self._queue_prefix = queue_prefix
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queues: dict[str, _QueueState] = {}
        self._consumers: list[_Consumer] = []

    @property
    def exchange(self) -> str:
        return self._exchange_name

    def retry_delay(self, deliveries: int) -> float:
        return float(min(self._retry_backoff * 2 ** max(deliveries - 1, 0), self._max_retry_delay))

    @property
    def is_connected(self) -> bool:
        """True while the connection is open (False during a reconnect): the readiness probe."""
        return self._connection is not None and not self._connection.is_closed

    async def start(self) -> None:
        if self._connection is not None:
            return
        connection = await aio_pika.connect_robust(self._url, heartbeat=self._heartbeat)
        try:
            publisher = await connection.channel(publisher_confirms=True)
            self._exchange = await publisher.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await connection.close()
            raise
        self._connection, self._publisher = connection, publisher

    async def close(self) -> None:
        consumers, self._consumers = self._consumers, []
        await asyncio.gather(*(consumer.cancel() for consumer in consumers))
        connection, self._connection = self._connection, None
        self._publisher = self._exchange = None
        if connection is not None:
            await connection.close()

    async def publish(self, event: EventEnvelope) -> None:
        message = _message(encode_event(event), message_id=event.id, type_=event.type)
        await self._publish(self._require(self._exchange), message, event.type)

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        await self._publish(self._require(self._exchange), _message(body, type_=routing_key), routing_key)

    async def declare(self, queues: Mapping[str, Sequence[str]]) -> None:
        """Durable queues (prefixed), their dead-letter queues and bindings, on a short-lived channel."""
        channel = await self._require(self._connection).channel(publisher_confirms=False)
        try:
            for queue, bindings in queues.items():
                await self._declare(channel, self._queue_prefix + queue, bindings, exclusive=False)
        finally:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await channel.close()

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
        connection = self._require(self._connection)
        queue = self._queue_prefix + queue
        state = self._queues.setdefault(queue, _QueueState(exclusive=exclusive))
        state.consumers += 1
        channel = await connection.channel(publisher_confirms=False)
        try:
            await channel.set_qos(prefetch_count=max(prefetch, 1))
            declared = await self._declare(channel, queue, bindings, exclusive)
            consumer = _Consumer(self, declared, state, handler, max_deliveries)
            await consumer.start()
        except BaseException:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await channel.close()
            await self._release(queue, state)
            raise
        self._consumers.append(consumer)
        return consumer

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        channel = await self._require(self._connection).channel(publisher_confirms=False)
        try:
            try:
                physical = dead_letter_queue(self._queue_prefix + queue)
                dead = await channel.declare_queue(physical, passive=True, robust=False)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return []
            letters: list[DeadLetter] = []
            while (message := await dead.get(no_ack=False, fail=False)) is not None:
                letters.append(_dead_letter_of(queue, message))
            return letters
        finally:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await channel.close()  # unacked messages go back to their places

    async def _declare(
        self, channel: AbstractChannel, queue: str, bindings: Sequence[str], exclusive: bool
    ) -> AbstractQueue:
        durable = not exclusive
        declared = await channel.declare_queue(queue, durable=durable, exclusive=exclusive, auto_delete=exclusive)
        await channel.declare_queue(dead_letter_queue(queue), durable=durable, exclusive=exclusive)
        for binding in bindings:
            await declared.bind(self._exchange_name, routing_key=binding)
        return declared

    async def _publish(self, exchange: AbstractExchange, message: aio_pika.Message, routing_key: str) -> None:
        """Publish and wait for the confirm; retry across a reconnection (consumers drop duplicates)."""
        for attempt in range(1, _PUBLISH_ATTEMPTS + 1):
            try:
                await exchange.publish(message, routing_key=routing_key, mandatory=False)
                return
            except aio_pika.exceptions.DeliveryError as exc:
                raise RetryableError(f"the broker refused a message for {routing_key!r}") from exc
            except _TRANSPORT_ERRORS as exc:
                if attempt == _PUBLISH_ATTEMPTS:
                    raise RetryableError(f"could not publish {routing_key!r}: {exc}") from exc
                log.warning("publish of %r failed (%s); retrying after reconnection", routing_key, exc)
                await self._wait_until_ready()

    async def _send_to_queue(self, queue: str, message: aio_pika.Message) -> None:
        publisher = self._require(self._publisher)
        await self._publish(publisher.default_exchange, message, queue)

    async def _wait_until_ready(self) -> None:
        publisher = self._require(self._publisher)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(publisher.ready(), timeout=_RECONNECT_WAIT_S)

    async def _release(self, queue: str, state: _QueueState) -> None:
        """One local consumer of ``queue`` is gone; an exclusive queue goes with its last one."""
        state.consumers -= 1
        if not state.exclusive or state.consumers > 0 or self._queues.get(queue) is not state:
            return
        del self._queues[queue]
        if self._publisher is not None:
            with contextlib.suppress(*_TRANSPORT_ERRORS):
                await self._publisher.queue_delete(queue)
                await self._publisher.queue_delete(dead_letter_queue(queue))

    def _forget(self, consumer: _Consumer) -> None:
        with contextlib.suppress(ValueError):
            self._consumers.remove(consumer)

    @staticmethod
    def _require(value: _T | None) -> _T:
        if value is None:
            raise RuntimeError("the bus is not started: call start() first")
        return value


def _message(body: bytes, *, type_: str, message_id: str | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        type=type_,
        content_type=JSON,
    )


def _copy(message: AbstractIncomingMessage, extra_headers: dict[str, Any]) -> aio_pika.Message:
    """A persistent copy of a delivered message, its headers updated."""
    return aio_pika.Message(
        message.body,
        headers={**(message.headers or {}), **extra_headers},
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
    )


async def _requeue(message: AbstractIncomingMessage) -> None:
    """Give an unsettled message back to the broker (a no-op if it was settled or the channel is gone)."""
    with contextlib.suppress(*_TRANSPORT_ERRORS):
        await message.nack(requeue=True)


def _deliveries_so_far(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(DELIVERIES_HEADER, 0)
    return value if isinstance(value, int) else 0


def _dead_letter_of(queue: str, message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    reason = headers.get(REASON_HEADER, "")
    if isinstance(reason, bytes):
        reason = reason.decode(errors="replace")
    return DeadLetter(queue=queue, body=message.body, reason=str(reason), deliveries=_deliveries_so_far(message))
