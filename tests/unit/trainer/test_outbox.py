"""The trainer's outbox: events from the training thread are published in order without blocking it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from contracts.events import EventEnvelope, TrialHeartbeat, TrialHeartbeatData
from services.trainer.outbox import Outbox


def _beat(epoch: int) -> TrialHeartbeat:
    return TrialHeartbeat(source="t", study_id="s", trial_id="x", data=TrialHeartbeatData(trainer_id="t", epoch=epoch))


async def test_events_from_a_thread_are_published_in_order_while_the_thread_runs_on() -> None:
    published: list[int] = []
    release = asyncio.Event()

    async def slow_publish(event: EventEnvelope) -> None:
        await release.wait()  # the broker has not confirmed anything yet
        assert isinstance(event, TrialHeartbeat)
        published.append(event.data.epoch)

    outbox = Outbox(slow_publish)
    handed_over = threading.Event()

    def train() -> None:
        for epoch in range(1, 6):
            outbox.put_threadsafe(_beat(epoch))
        handed_over.set()

    await asyncio.to_thread(train)
    assert handed_over.is_set() and published == [], "the thread finished without waiting for a confirm"
    release.set()
    await outbox.drain()
    assert published == [1, 2, 3, 4, 5]


async def test_drain_reraises_the_first_failure_and_publishes_nothing_after_it() -> None:
    published: list[int] = []

    async def publish(event: EventEnvelope) -> None:
        assert isinstance(event, TrialHeartbeat)
        if event.data.epoch == 2:
            raise ConnectionError("broker gone")
        published.append(event.data.epoch)

    outbox = Outbox(publish)

    def train() -> None:
        for epoch in (1, 2, 3):
            outbox.put_threadsafe(_beat(epoch))

    await asyncio.to_thread(train)
    with pytest.raises(ConnectionError, match="broker gone"):
        await outbox.drain()
    assert published == [1]
