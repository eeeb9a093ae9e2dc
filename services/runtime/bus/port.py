"""The Bus port: topic routing of events to named queues, with the same semantics everywhere.

Semantics shared by every implementation (and checked by ``tests/contract/bus``):

- ``publish`` routes an event by its ``type`` to every queue bound to that routing key.
  Binding patterns follow AMQP topic rules: ``*`` matches one word, ``#`` zero or more.
- ``subscribe(queue, bindings, handler)`` declares ``queue`` (once), binds it, and adds one
  consumer. Several consumers on one queue compete: each message goes to one of them
  (``trial.requested`` is such a work queue). ``prefetch`` caps unacked messages per consumer.
- A message is acked after its handler returns. A ``RetryableError`` (or any unexpected
  exception) requeues it until ``max_deliveries`` is reached, then it is dead-lettered with the
  reason; a ``FatalError`` or an undecodable body is dead-lettered at once.
- Consumers are idempotent: a message whose event id was already handled on that queue is acked
  without calling the handler again.
- ``declare(queues)`` sets up durable queues and their bindings without consuming: events
  published afterwards wait there for their first consumer.
- ``exclusive=True`` declares a queue that lives only as long as its consumer (per-instance
  broadcast queues, e.g. each trainer's ``trial.control`` feed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from contracts.events import Event, EventEnvelope

Handler = Callable[[Event], Awaitable[None]]
"""Consumes one delivered event."""

Publish = Callable[[EventEnvelope], Awaitable[None]]
"""Publishes one event durably (``Bus.publish``); what handlers' dependencies carry."""

DEFAULT_MAX_DELIVERIES = 5


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be handled, with the reason."""

    queue: str
    body: bytes
    reason: str
    deliveries: int


class Subscription(Protocol):
    async def cancel(self) -> None: ...


class Bus(Protocol):
    """Publishes events and delivers them to subscribed handlers."""

    async def start(self) -> None:
        """Connect and declare the shared topology."""

    async def close(self) -> None:
        """Stop consuming and release connections; in-flight handlers finish first."""

    async def publish(self, event: EventEnvelope) -> None:
        """Publish durably: returns once the broker (or the in-process queue) holds the event."""

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Publish arbitrary bytes under a routing key (tests of malformed input use this)."""

    async def declare(self, queues: Mapping[str, Sequence[str]]) -> None:
        """Declare durable ``queue -> bindings`` (with their dead-letter queues) ahead of any consumer."""

    async def subscribe(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = 1,
        exclusive: bool = False,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> Subscription:
        """Declare and bind ``queue`` and start one consumer running ``handler``."""

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        """Messages dead-lettered from ``queue`` so far (oldest first)."""


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
