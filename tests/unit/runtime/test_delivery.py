"""The one delivery policy both buses apply: a handler's outcome -> ack, retry or dead-letter (with a cause)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from contracts.events import Event, StudyStopRequested, StudyStopRequestedData, parse_event
from services.runtime.bus.delivery import (
    ACK,
    REASON_MAX_CHARS,
    DeadLetterCause,
    Outcome,
    ProcessedIds,
    Verdict,
    malformed,
    run_handler,
)
from services.runtime.bus.port import Handler
from services.runtime.errors import FatalError, RetryableError, TrialFailure

EVENT = StudyStopRequested(source="test", study_id="s", data=StudyStopRequestedData())


def _raising(exc: BaseException | None) -> Handler:
    async def handler(event: Event) -> None:
        if exc is not None:
            raise exc

    return handler


@pytest.mark.parametrize(
    ("raised", "verdict", "cause", "reason"),
    [
        (None, Verdict.ACK, None, ""),
        (TrialFailure("nan loss"), Verdict.ACK, None, ""),
        (FatalError("unknown study"), Verdict.DEAD, DeadLetterCause.FATAL, "fatal: unknown study"),
        (RetryableError("db down"), Verdict.RETRY, None, "RetryableError: db down"),
        (KeyError("x"), Verdict.RETRY, None, "KeyError: 'x'"),
    ],
    ids=["returned", "trial failure", "fatal", "retryable", "unexpected"],
)
async def test_a_handlers_ending_maps_to_one_outcome(
    raised: Exception | None, verdict: Verdict, cause: DeadLetterCause | None, reason: str
) -> None:
    outcome = await run_handler(_raising(raised), EVENT, "q")
    assert (outcome.verdict, outcome.cause, outcome.reason) == (verdict, cause, reason)


async def test_cancellation_is_not_an_outcome() -> None:
    with pytest.raises(asyncio.CancelledError):
        await run_handler(_raising(asyncio.CancelledError()), EVENT, "q")


@pytest.mark.parametrize(("deliveries", "verdict"), [(1, Verdict.RETRY), (4, Verdict.RETRY), (5, Verdict.DEAD)])
def test_a_retry_becomes_a_dead_letter_once_deliveries_are_used_up(deliveries: int, verdict: Verdict) -> None:
    outcome = Outcome(Verdict.RETRY, "KeyError: 'x'").after(deliveries, max_deliveries=5)
    assert outcome.verdict is verdict
    if verdict is Verdict.DEAD:
        assert (
            outcome.cause is DeadLetterCause.GAVE_UP and outcome.reason == "gave up after 5 deliveries: KeyError: 'x'"
        )
    assert ACK.after(9, 5) is ACK


def test_a_malformed_body_is_dead_lettered_with_the_first_problem() -> None:
    with pytest.raises(ValidationError) as invalid:
        parse_event(b'{"type": "study.stop_requested", "source": "x"}')
    outcome = malformed(invalid.value)
    assert outcome.cause is DeadLetterCause.MALFORMED and outcome.reason.startswith("malformed message: ")


async def test_reasons_are_bounded() -> None:
    outcome = await run_handler(_raising(FatalError("x" * 50_000)), EVENT, "q")
    assert len(outcome.reason) == REASON_MAX_CHARS


def test_processed_ids_make_a_duplicate_an_ack_and_forget_the_oldest() -> None:
    ids = ProcessedIds(kept=2)
    assert ids.claim("a") and not ids.claim("a"), "in flight: a concurrent duplicate is not handled twice"
    ids.settle("a", ACK)
    assert not ids.claim("a"), "handled: a redelivery is acked without the handler"
    assert ids.claim("b")
    ids.settle("b", Outcome(Verdict.RETRY, "boom"))
    assert ids.claim("b"), "a failed delivery may run again"
    ids.settle("b", ACK)
    assert ids.claim("c")
    ids.settle("c", ACK)
    assert ids.claim("a"), "only the last `kept` ids are remembered"
    ids.release("a")
    assert ids.claim("a")
