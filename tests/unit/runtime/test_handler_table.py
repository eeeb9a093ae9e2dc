"""The typed handler table: one handler per event type, routing keys from registration, unknown events ignored."""

from __future__ import annotations

import pytest

from contracts.events import (
    StudyStopRequested,
    StudyStopRequestedData,
    TrialFailed,
    TrialFailedData,
    TrialPruned,
    TrialPrunedData,
)
from services.runtime.handlers import HandlerTable


async def test_a_handler_registered_for_two_events_receives_both_and_others_are_ignored() -> None:
    table: HandlerTable[list[str]] = HandlerTable("test")

    @table.on(TrialPruned, TrialFailed)
    async def ended(event: TrialPruned | TrialFailed, seen: list[str]) -> None:
        seen.append(f"{event.type}:{event.data.trial_number}")

    seen: list[str] = []
    ids = {"source": "test", "study_id": "s", "trial_id": "t"}
    handle = table.bind(seen)
    await handle(TrialPruned(**ids, data=TrialPrunedData(trainer_id="x", trial_number=1, epoch=2)))
    await handle(TrialFailed(**ids, data=TrialFailedData(trial_number=2, reason="oom")))
    await handle(StudyStopRequested(source="test", study_id="s", data=StudyStopRequestedData()))
    assert seen == ["trial.pruned:1", "trial.failed:2"]
    assert table.routing_keys() == ("trial.pruned", "trial.failed")
    assert table.handles("trial.failed") and not table.handles("study.stop_requested")


def test_two_handlers_for_one_event_type_are_refused() -> None:
    table: HandlerTable[None] = HandlerTable("test")

    @table.on(TrialFailed)
    async def first(event: TrialFailed, deps: None) -> None:
        """One."""

    with pytest.raises(ValueError, match=r"trial\.failed already has a handler"):

        @table.on(TrialFailed)
        async def second(event: TrialFailed, deps: None) -> None:
            """Two."""


def test_follow_up_copies_study_trial_and_correlation_ids() -> None:
    cause = TrialPruned(
        source="trainer",
        study_id="s1",
        trial_id="t1",
        correlation_id="c1",
        data=TrialPrunedData(trainer_id="x", trial_number=3, epoch=1),
    )
    follow = cause.follow_up(TrialFailed, TrialFailedData(trial_number=3, reason="r"), source="health", id="fixed")
    assert (follow.study_id, follow.trial_id, follow.correlation_id, follow.source, follow.id) == (
        "s1",
        "t1",
        "c1",
        "health",
        "fixed",
    )
    assert follow.id != cause.id and cause.follow_up(TrialFailed, follow.data, source="h").id != follow.id
