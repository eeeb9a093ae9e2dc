"""The delivery policy every Bus applies: what a handler's outcome means for the message.

- the handler returns, or raises ``TrialFailure`` (the work failed and was reported) or ``StaleEvent``
  (the event belongs to a superseded attempt): **ack**;
- ``FatalError``: **dead-letter** at once (cause ``fatal``);
- any other exception: **retry**, until the message has been delivered ``max_deliveries`` times,
  then **dead-letter** (cause ``gave_up``);
- a body that is not a valid event: **dead-letter** (cause ``malformed``).

``ProcessedIds`` is the per-queue memory of event ids handled (and being handled) that makes a
redelivered duplicate an ack without a second call of the handler. The buses decide only *how* to
ack, requeue or dead-letter on their transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum

from pydantic import ValidationError

from contracts.events import Event
from services.runtime.bus.port import Handler
from services.runtime.errors import FatalError, StaleEvent, TrialFailure

log = logging.getLogger(__name__)

PROCESSED_IDS_KEPT = 100_000
REASON_MAX_CHARS = 2_000


class DeadLetterCause(StrEnum):
    """Why a message went to its dead-letter queue (the ``cause`` label of the dead-letter metric)."""

    MALFORMED = "malformed"
    FATAL = "fatal"
    GAVE_UP = "gave_up"


DeadLetterHook = Callable[[str, DeadLetterCause, str], None]
"""Called with (queue, cause, reason) for every message a bus dead-letters."""


class Verdict(Enum):
    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Outcome:
    """What to do with one delivery; ``reason`` and ``cause`` explain a retry or a dead letter."""

    verdict: Verdict
    reason: str = ""
    cause: DeadLetterCause | None = None

    def after(self, deliveries: int, max_deliveries: int) -> Outcome:
        """A retry that has used up its deliveries becomes a dead letter."""
        if self.verdict is Verdict.RETRY and deliveries >= max_deliveries:
            return dead(DeadLetterCause.GAVE_UP, f"gave up after {deliveries} deliveries: {self.reason}")
        return self


ACK = Outcome(Verdict.ACK)


def dead(cause: DeadLetterCause, reason: str) -> Outcome:
    return Outcome(Verdict.DEAD, reason[:REASON_MAX_CHARS], cause)


def malformed(exc: ValidationError) -> Outcome:
    """The outcome for a body that does not decode to an event."""
    return dead(DeadLetterCause.MALFORMED, f"malformed message: {describe_invalid(exc)}")


async def run_handler(handler: Handler, event: Event, queue: str) -> Outcome:
    """Call ``handler`` and map how it ended to an outcome (cancellation propagates)."""
    try:
        await handler(event)
    except StaleEvent as exc:
        log.info("queue %s: stale %s ignored: %s", queue, event.type, exc)
    except TrialFailure as exc:
        log.warning("queue %s: trial failure handled as final: %s", queue, exc)
    except FatalError as exc:
        return dead(DeadLetterCause.FATAL, f"fatal: {exc}")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}"[:REASON_MAX_CHARS])
    return ACK


def describe_invalid(exc: ValidationError) -> str:
    """The first validation error as ``field.path: message``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


class ProcessedIds:
    """Event ids handled on one queue (the last ``kept``) and those being handled right now."""

    def __init__(self, kept: int = PROCESSED_IDS_KEPT) -> None:
        self._kept = kept
        self._done: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()

    def claim(self, event_id: str) -> bool:
        """True when this delivery should run the handler; False for a duplicate (ack it)."""
        if event_id in self._done or event_id in self._in_flight:
            return False
        self._in_flight.add(event_id)
        return True

    def settle(self, event_id: str, outcome: Outcome) -> None:
        """The claimed delivery ended with ``outcome``; an acked event is remembered as done."""
        self._in_flight.discard(event_id)
        if outcome.verdict is Verdict.ACK:
            self._done[event_id] = None
            while len(self._done) > self._kept:
                self._done.popitem(last=False)

    def release(self, event_id: str) -> None:
        """The claimed delivery was interrupted: a redelivery may run the handler again."""
        self._in_flight.discard(event_id)
