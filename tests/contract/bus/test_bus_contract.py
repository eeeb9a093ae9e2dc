"""THE Bus contract: every Bus implementation runs this one suite (DESIGN.md section 3).

To add an implementation, add an entry to ``BUS_IMPLEMENTATIONS``: a factory taking the pytest
request (to reach fixtures such as a broker URL, or to skip when the broker is unreachable) and
returning an un-started Bus, plus the marks its parameter carries (``pytest.mark.integration`` for
a real broker). The ``bus`` fixture starts it and closes it after the test.

Tests use the ``Bus`` protocol alone. Every queue name, routing key and study id carries a word
unique to the test, and recorders ignore foreign events, so the suite can share one broker with
other runs; a real-broker factory should delete the ``contract.*`` queues a test declared.

Ordering assumption used to check that something did NOT arrive: a queue with one consumer and
prefetch 1 delivers in publish order, so once a "sentinel" published last has been handled, every
message routed to that queue before it has been handled too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from contracts.enums import ControlAction, StudyState
from contracts.events import (
    Event,
    EventEnvelope,
    StudyCompleted,
    StudyCompletedData,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialControl,
    TrialControlData,
    TrialHeartbeat,
    TrialHeartbeatData,
    TrialStarted,
    TrialStartedData,
    encode_event,
    parse_event,
)
from services.runtime.bus import Bus, InMemoryBus
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES
from services.runtime.errors import FatalError, RetryableError, TrialFailure
from tests.support.waiting import eventually

WAIT_S = 5.0
SETTLE_S = 0.05
SENTINEL = "sentinel"

BusFactory = Callable[[pytest.FixtureRequest], Bus]


def _memory_bus(request: pytest.FixtureRequest) -> Bus:
    return InMemoryBus()


def _rabbitmq_bus(request: pytest.FixtureRequest) -> Bus:
    """An AmqpBus on the test's own exchange; ``amqp_sandbox`` (conftest.py) deletes what it declared."""
    return request.getfixturevalue("amqp_sandbox").new_bus()


# name -> (factory, marks)
BUS_IMPLEMENTATIONS: dict[str, tuple[BusFactory, tuple[pytest.MarkDecorator, ...]]] = {
    "memory": (_memory_bus, ()),
    "rabbitmq": (_rabbitmq_bus, (pytest.mark.integration,)),
}


@pytest.fixture(params=[pytest.param(name, marks=marks) for name, (_, marks) in BUS_IMPLEMENTATIONS.items()])
def bus_factory(request: pytest.FixtureRequest) -> Callable[[], Bus]:
    """Makes un-started buses of the implementation under test."""
    factory, _ = BUS_IMPLEMENTATIONS[request.param]
    return lambda: factory(request)


@pytest.fixture
async def bus(bus_factory: Callable[[], Bus]) -> AsyncIterator[Bus]:
    instance = bus_factory()
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()


# ---- helpers --------------------------------------------------------------------------------


@dataclass
class Unique:
    """Names private to one test."""

    word: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def queue(self, label: str) -> str:
        return f"contract.{label}.{self.word}"

    @property
    def sentinel_key(self) -> str:
        return f"{SENTINEL}.{self.word}"

    def heartbeat(self, epoch: int = 0, trainer_id: str = "trainer") -> TrialHeartbeat:
        return TrialHeartbeat(
            source="contract",
            study_id=self.word,
            trial_id="t",
            data=TrialHeartbeatData(trainer_id=trainer_id, epoch=epoch),
        )

    def sentinel(self) -> TrialHeartbeat:
        return self.heartbeat(trainer_id=SENTINEL)


@pytest.fixture
def unique() -> Unique:
    return Unique()


def _is_sentinel(event: Event) -> bool:
    return isinstance(event, TrialHeartbeat) and event.data.trainer_id == SENTINEL


class Recorder:
    """A handler recording the events of one test (foreign events are acked and ignored)."""

    def __init__(self, unique: Unique, delay_s: float = 0.0) -> None:
        self._word = unique.word
        self._delay_s = delay_s
        self.all: list[Event] = []
        self.active = 0
        self.max_active = 0

    async def __call__(self, event: Event) -> None:
        if event.study_id != self._word:
            return
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            self.all.append(event)
        finally:
            self.active -= 1

    @property
    def events(self) -> list[Event]:
        """Received events, sentinels left out, in arrival order."""
        return [e for e in self.all if not _is_sentinel(e)]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.all]


class Flaky:
    """Raises ``error`` for every non-sentinel event until it has failed ``failures`` times per event."""

    def __init__(self, unique: Unique, error: Callable[[], BaseException], failures: int) -> None:
        self._word = unique.word
        self._error = error
        self._failures = failures
        self.attempts: Counter[str] = Counter()
        self.handled: list[Event] = []

    async def __call__(self, event: Event) -> None:
        if event.study_id != self._word:
            return
        if not _is_sentinel(event):
            self.attempts[event.id] += 1
            if self.attempts[event.id] <= self._failures:
                raise self._error()
        self.handled.append(event)


async def drain(bus: Bus, unique: Unique, recorders: Sequence[Recorder | Flaky], timeout_s: float = WAIT_S) -> None:
    """Publish a sentinel (every queue of ``recorders`` binds ``unique.sentinel_key``) and wait for it."""
    sentinel = unique.sentinel()
    await bus.publish_raw(unique.sentinel_key, encode_event(sentinel))

    def arrived() -> bool:
        return all(
            any(e.id == sentinel.id for e in (r.all if isinstance(r, Recorder) else r.handled)) for r in recorders
        )

    await eventually(arrived, "the sentinel published after everything else", timeout=timeout_s)


async def dead_letter_count(bus: Bus, queue: str, n: int) -> None:
    async def reached() -> bool:
        return len(await bus.dead_letters(queue)) >= n

    await eventually(reached, f"{n} dead letter(s) on {queue}", timeout=WAIT_S)


def _events(unique: Unique) -> dict[str, EventEnvelope]:
    common: dict[str, Any] = {"source": "contract", "study_id": unique.word}
    return {
        "trial.started": TrialStarted(
            **common, trial_id="t", data=TrialStartedData(trainer_id="trainer", trial_number=0)
        ),
        "trial.heartbeat": unique.heartbeat(),
        "trial.control": TrialControl(**common, trial_id="t", data=TrialControlData(action=ControlAction.PRUNE)),
        "study.completed": StudyCompleted(**common, data=StudyCompletedData(state=StudyState.COMPLETED)),
        "study.stop_requested": StudyStopRequested(**common, data=StudyStopRequestedData()),
    }


# ---- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        pytest.param("trial.started", ["trial.started"], id="exact"),
        pytest.param("trial.*", ["trial.started", "trial.heartbeat", "trial.control"], id="star-suffix"),
        pytest.param("*.completed", ["study.completed"], id="star-prefix"),
        pytest.param("study.#", ["study.completed", "study.stop_requested"], id="hash-suffix"),
        pytest.param(
            "#",
            ["trial.started", "trial.heartbeat", "trial.control", "study.completed", "study.stop_requested"],
            id="hash-alone",
        ),
        pytest.param("trial.nothing", [], id="no-match"),
    ],
)
async def test_topic_routing_by_event_type(bus: Bus, unique: Unique, binding: str, expected: list[str]) -> None:
    recorder = Recorder(unique)
    await bus.subscribe(unique.queue("routing"), [binding, unique.sentinel_key], recorder)
    published = _events(unique)

    for event in published.values():
        await bus.publish(event)
    await drain(bus, unique, [recorder])

    assert [e.type for e in recorder.events] == expected
    for received in recorder.events:
        assert received == published[received.type]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param("{u}.*", ["{u}.x"], id="star-is-exactly-one-word"),
        pytest.param("{u}.#", ["{u}", "{u}.x", "{u}.x.end"], id="hash-is-zero-or-more-words"),
        pytest.param("#.{u}", ["{u}", "x.{u}", "x.y.{u}"], id="leading-hash"),
        pytest.param("{u}.*.end", ["{u}.x.end"], id="star-in-the-middle"),
        pytest.param("*.{u}", ["x.{u}"], id="leading-star"),
        pytest.param("{u}.x", ["{u}.x"], id="exact-words"),
    ],
)
async def test_topic_patterns_on_multi_word_keys(bus: Bus, unique: Unique, pattern: str, expected: list[str]) -> None:
    keys = ["{u}", "{u}.x", "{u}.x.end", "x.{u}", "x.y.{u}"]
    recorder = Recorder(unique)
    await bus.subscribe(unique.queue("patterns"), [pattern.format(u=unique.word), unique.sentinel_key], recorder)
    key_of: dict[str, str] = {}

    for key in keys:
        event = unique.heartbeat()
        key_of[event.id] = key
        await bus.publish_raw(key.format(u=unique.word), encode_event(event))
    await drain(bus, unique, [recorder])

    assert [key_of[e.id] for e in recorder.events] == expected


async def test_an_event_reaches_every_bound_queue_once(bus: Bus, unique: Unique) -> None:
    bindings = [["trial.heartbeat"], ["trial.heartbeat"], ["#"], ["trial.*", "trial.heartbeat", "#"]]
    recorders = [Recorder(unique) for _ in bindings]
    for i, (recorder, keys) in enumerate(zip(recorders, bindings, strict=True)):
        await bus.subscribe(unique.queue(f"fanout{i}"), [*keys, unique.sentinel_key], recorder)
    event = unique.heartbeat()

    await bus.publish(event)
    await drain(bus, unique, recorders)

    for recorder in recorders:
        assert recorder.events == [event]
        assert recorder.ids.count(recorder.all[-1].id) == 1


async def test_a_declared_queue_keeps_what_is_published_before_its_first_consumer(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("declared")
    await bus.declare({queue: ["trial.heartbeat", unique.sentinel_key]})
    early = [unique.heartbeat() for _ in range(3)]
    for event in early:
        await bus.publish(event)
    recorder = Recorder(unique)

    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], recorder)
    await drain(bus, unique, [recorder])

    assert recorder.events == early
    assert await bus.dead_letters(queue) == []


async def test_subscribing_again_adds_bindings_to_the_same_queue(bus: Bus, unique: Unique) -> None:
    recorder = Recorder(unique)
    queue = unique.queue("rebind")
    first = await bus.subscribe(queue, ["trial.started", unique.sentinel_key], recorder)
    await first.cancel()
    await bus.subscribe(queue, ["trial.control"], recorder)
    events = _events(unique)

    for event in events.values():
        await bus.publish(event)
    await drain(bus, unique, [recorder])

    assert [e.type for e in recorder.events] == ["trial.started", "trial.control"]


# ---- consumers ------------------------------------------------------------------------------


async def test_competing_consumers_share_the_work(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("work")
    consumers = [Recorder(unique, delay_s=0.002) for _ in range(3)]
    for consumer in consumers:
        await bus.subscribe(queue, ["trial.heartbeat"], consumer, prefetch=1)
    published = [unique.heartbeat(epoch=i) for i in range(30)]

    for event in published:
        await bus.publish(event)
    await eventually(
        lambda: sum(len(c.all) for c in consumers) >= len(published), "30 handled messages", timeout=WAIT_S
    )
    await asyncio.sleep(SETTLE_S)

    handled = [e.id for c in consumers for e in c.all]
    assert sorted(handled) == sorted(e.id for e in published), "each message is handled exactly once"
    assert sum(1 for c in consumers if c.all) > 1, "the work is spread over more than one consumer"
    assert await bus.dead_letters(queue) == []


async def test_a_cancelled_consumer_leaves_the_work_to_the_others(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("cancel-one")
    leaving, staying = Recorder(unique), Recorder(unique)
    subscription = await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], leaving)
    await bus.subscribe(queue, ["trial.heartbeat"], staying)
    await subscription.cancel()
    published = [unique.heartbeat(epoch=i) for i in range(5)]

    for event in published:
        await bus.publish(event)
    await drain(bus, unique, [staying])

    assert leaving.all == []
    assert staying.events == published


async def test_prefetch_one_serializes_a_consumer(bus: Bus, unique: Unique) -> None:
    recorder = Recorder(unique, delay_s=0.005)
    await bus.subscribe(unique.queue("serial"), ["trial.heartbeat"], recorder, prefetch=1)
    published = [unique.heartbeat(epoch=i) for i in range(6)]

    for event in published:
        await bus.publish(event)
    await eventually(lambda: len(recorder.events) == len(published), "six handled messages", timeout=WAIT_S)

    assert recorder.max_active == 1
    assert recorder.events == published


async def test_prefetch_caps_concurrent_handlers(bus: Bus, unique: Unique) -> None:
    recorder = Recorder(unique, delay_s=0.005)
    await bus.subscribe(unique.queue("prefetch2"), ["trial.heartbeat"], recorder, prefetch=2)

    for i in range(8):
        await bus.publish(unique.heartbeat(epoch=i))
    await eventually(lambda: len(recorder.events) == 8, "eight handled messages", timeout=WAIT_S)

    assert 1 <= recorder.max_active <= 2


async def test_a_message_is_acked_once_its_handler_succeeds(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("ack")
    recorder = Recorder(unique)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], recorder)
    event = unique.heartbeat()

    await bus.publish(event)
    await drain(bus, unique, [recorder])
    await drain(bus, unique, [recorder])

    assert recorder.events == [event]
    assert await bus.dead_letters(queue) == []


async def test_an_unacked_message_stays_with_its_consumer(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("in-flight")
    gate = asyncio.Event()
    first_seen: list[Event] = []

    async def blocking(event: Event) -> None:
        if event.study_id == unique.word:
            first_seen.append(event)
            await gate.wait()

    await bus.subscribe(queue, ["trial.heartbeat"], blocking, prefetch=1)
    held, following = unique.heartbeat(epoch=1), unique.heartbeat(epoch=2)
    await bus.publish(held)
    await eventually(lambda: first_seen == [held], "the first consumer to take the message", timeout=WAIT_S)
    second = Recorder(unique)
    await bus.subscribe(queue, ["trial.heartbeat"], second, prefetch=1)

    await bus.publish(following)
    await eventually(
        lambda: second.events == [following], "the second consumer to take the next message", timeout=WAIT_S
    )
    gate.set()
    await asyncio.sleep(SETTLE_S)

    assert first_seen == [held]
    assert second.events == [following]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(lambda: RetryableError("connection dropped"), id="RetryableError"),
        pytest.param(lambda: RuntimeError("unexpected"), id="plain-exception"),
    ],
)
async def test_a_failing_handler_is_retried_until_it_succeeds(
    bus: Bus, unique: Unique, error: Callable[[], BaseException]
) -> None:
    queue = unique.queue("retry")
    handler = Flaky(unique, error, failures=2)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], handler, max_deliveries=5)
    event = unique.heartbeat()

    await bus.publish(event)
    await eventually(lambda: event in handler.handled, "the third delivery to succeed", timeout=WAIT_S)
    await drain(bus, unique, [handler])

    assert handler.attempts[event.id] == 3
    assert [e for e in handler.handled if not _is_sentinel(e)] == [event]
    assert await bus.dead_letters(queue) == []


@pytest.mark.parametrize("max_deliveries", [1, 3, None])
async def test_a_handler_that_always_fails_ends_in_the_dead_letters(
    bus: Bus, unique: Unique, max_deliveries: int | None
) -> None:
    queue = unique.queue("give-up")
    handler = Flaky(unique, lambda: RetryableError("database is down"), failures=10**6)
    bindings = ["trial.heartbeat", unique.sentinel_key]
    if max_deliveries is None:
        await bus.subscribe(queue, bindings, handler)
    else:
        await bus.subscribe(queue, bindings, handler, max_deliveries=max_deliveries)
    event = unique.heartbeat()
    expected = DEFAULT_MAX_DELIVERIES if max_deliveries is None else max_deliveries

    await bus.publish(event)
    await dead_letter_count(bus, queue, 1)
    await drain(bus, unique, [handler])

    (dead,) = await bus.dead_letters(queue)
    assert dead.queue == queue
    assert dead.deliveries == expected
    assert "database is down" in dead.reason
    assert parse_event(dead.body) == event
    assert handler.attempts[event.id] == expected


async def test_a_fatal_error_dead_letters_at_once(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("fatal")
    handler = Flaky(unique, lambda: FatalError("study s-42 is unknown"), failures=10**6)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], handler, max_deliveries=5)
    event = unique.heartbeat()

    await bus.publish(event)
    await dead_letter_count(bus, queue, 1)
    await drain(bus, unique, [handler])

    (dead,) = await bus.dead_letters(queue)
    assert handler.attempts[event.id] == 1
    assert dead.deliveries == 1
    assert "study s-42 is unknown" in dead.reason
    assert parse_event(dead.body) == event


async def test_malformed_bodies_are_dead_lettered_and_the_consumer_goes_on(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("malformed")
    recorder = Recorder(unique)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], recorder)
    valid = json.loads(encode_event(unique.heartbeat()))
    bad_bodies = [
        b"not json at all",
        json.dumps({"type": "trial.heartbeat", "study_id": unique.word}).encode(),
        json.dumps(valid | {"type": "trial.exploded"}).encode(),
        json.dumps(valid | {"data": {"epoch": "soon"}}).encode(),
    ]
    good_before, good_after = unique.heartbeat(epoch=1), unique.heartbeat(epoch=2)

    await bus.publish(good_before)
    for body in bad_bodies:
        await bus.publish_raw("trial.heartbeat", body)
    await bus.publish(good_after)
    await dead_letter_count(bus, queue, len(bad_bodies))
    await drain(bus, unique, [recorder])

    dead = await bus.dead_letters(queue)
    assert [d.body for d in dead] == bad_bodies
    assert all(d.reason.strip() and d.queue == queue for d in dead)
    assert recorder.events == [good_before, good_after]


async def test_a_trial_failure_is_acked_without_redelivery(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("trial-failure")
    handler = Flaky(unique, lambda: TrialFailure("NaN loss at epoch 2"), failures=10**6)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], handler, max_deliveries=5)
    event = unique.heartbeat()

    await bus.publish(event)
    await eventually(lambda: handler.attempts[event.id] == 1, "the first delivery", timeout=WAIT_S)
    await drain(bus, unique, [handler])
    await drain(bus, unique, [handler])

    assert handler.attempts[event.id] == 1
    assert await bus.dead_letters(queue) == []


async def test_a_duplicate_event_id_is_handled_once_per_queue(bus: Bus, unique: Unique) -> None:
    recorders = [Recorder(unique), Recorder(unique)]
    for i, recorder in enumerate(recorders):
        await bus.subscribe(unique.queue(f"dedup{i}"), ["trial.heartbeat", unique.sentinel_key], recorder)
    event = unique.heartbeat()

    await bus.publish(event)
    await bus.publish(event)
    await bus.publish_raw("trial.heartbeat", encode_event(event))
    await drain(bus, unique, recorders)

    for recorder in recorders:
        assert recorder.events == [event]


async def test_duplicates_arriving_while_the_original_is_in_flight_are_not_handled(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("dedup-in-flight")
    gate = asyncio.Event()
    calls: Counter[str] = Counter()

    async def slow(event: Event) -> None:
        if event.study_id == unique.word:
            calls[event.id] += 1
            await gate.wait()

    for _ in range(3):
        await bus.subscribe(queue, ["trial.heartbeat"], slow, prefetch=1)
    event = unique.heartbeat()

    for _ in range(3):
        await bus.publish(event)
    await eventually(lambda: calls[event.id] >= 1, "the first delivery", timeout=WAIT_S)
    await asyncio.sleep(SETTLE_S)
    gate.set()
    await asyncio.sleep(SETTLE_S)

    assert calls[event.id] == 1


# ---- queue lifetimes and shutdown -----------------------------------------------------------


async def test_an_exclusive_queue_goes_away_with_its_consumer(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("exclusive")
    first = Recorder(unique)
    subscription = await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], first, exclusive=True)
    before = unique.heartbeat(epoch=1)
    await bus.publish(before)
    await drain(bus, unique, [first])
    await subscription.cancel()

    for i in range(3):
        await bus.publish(unique.heartbeat(epoch=10 + i))
    second = Recorder(unique)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], second, exclusive=True)
    await drain(bus, unique, [second])

    assert first.events == [before]
    assert second.events == [], "messages published while the exclusive queue was gone must not accumulate"


async def test_a_durable_queue_keeps_messages_while_it_has_no_consumer(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("durable")
    subscription = await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], Recorder(unique))
    await subscription.cancel()
    waiting = [unique.heartbeat(epoch=i) for i in range(3)]

    for event in waiting:
        await bus.publish(event)
    later = Recorder(unique)
    await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], later)
    await drain(bus, unique, [later])

    assert later.events == waiting


async def test_cancelling_twice_leaves_the_other_consumers_alone(bus: Bus, unique: Unique) -> None:
    queue = unique.queue("cancel-twice")
    staying = Recorder(unique)
    leaving = await bus.subscribe(queue, ["trial.heartbeat", unique.sentinel_key], Recorder(unique), exclusive=True)
    await bus.subscribe(queue, ["trial.heartbeat"], staying, exclusive=True)

    await leaving.cancel()
    await leaving.cancel()
    event = unique.heartbeat()
    await bus.publish(event)
    await drain(bus, unique, [staying], timeout_s=1.0)

    assert staying.events == [event]


async def test_close_lets_in_flight_handlers_finish_then_stops_consuming(bus: Bus, unique: Unique) -> None:
    started: list[Event] = []
    finished: list[Event] = []

    async def slow(event: Event) -> None:
        if event.study_id == unique.word:
            started.append(event)
            await asyncio.sleep(SETTLE_S)
            finished.append(event)

    await bus.subscribe(unique.queue("close"), ["trial.heartbeat"], slow, prefetch=1)
    for i in range(3):
        await bus.publish(unique.heartbeat(epoch=i))
    await eventually(lambda: len(started) == 1, "the first handler to start", timeout=WAIT_S)

    async with asyncio.timeout(WAIT_S):
        await bus.close()

    assert len(finished) == 1, "close() returns after the in-flight handler finished"
    await asyncio.sleep(SETTLE_S)
    assert len(started) == 1, "no handler runs after close()"
    await bus.close()


async def test_dead_letters_of_an_unknown_queue_are_empty(bus: Bus, unique: Unique) -> None:
    assert await bus.dead_letters(unique.queue("never-declared")) == []
