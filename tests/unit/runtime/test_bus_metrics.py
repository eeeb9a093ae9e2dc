"""The metrics every service's bus records: zero counters per bound type and dead-letter cause, retries,
database errors, readiness and the broker connection."""

from __future__ import annotations

import sqlite3

import pytest
from prometheus_client import CollectorRegistry

from contracts.events import Event
from services.runtime.bus.memory import InMemoryBus
from services.runtime.errors import RetryableError
from services.runtime.observability.metrics import InstrumentedBus, ServiceMetrics, caused_by_database
from tests.support.events import trial_started
from tests.support.waiting import eventually


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_a_failing_handler_is_counted_once_per_failure_and_its_retries_are_counted() -> None:
    metrics = ServiceMetrics("health", queue_prefix="p.")
    bus = InstrumentedBus(InMemoryBus(on_dead_letter=metrics.dead_lettered), metrics)
    calls: list[Event] = []

    async def flaky(event: Event) -> None:
        calls.append(event)
        if len(calls) < 3:
            try:
                sqlite3.connect(":memory:").execute("select * from missing")
            except sqlite3.OperationalError as exc:
                raise RetryableError("read model unavailable") from exc

    await bus.start()
    await bus.subscribe("health", ["trial.started", "trial.failed"], flaky)
    registry = metrics.registry
    labels = {"service": "health", "queue": "health"}
    for name in (
        "hpo_events_handled_total",
        "hpo_events_failed_total",
        "hpo_event_retries_total",
        "hpo_stale_events_total",
    ):
        assert _value(registry, name, **labels, type="trial.failed") == 0  # there before anything happened
    for cause in ("malformed", "fatal", "gave_up"):
        assert (
            _value(registry, "hpo_messages_dead_lettered_total", service="health", queue="p.health", cause=cause) == 0
        )
    try:
        await bus.publish(trial_started("s1", "t1"))
        await eventually(lambda: _value(registry, "hpo_events_handled_total", **labels, type="trial.started") == 1,
                         "the third delivery to succeed", timeout=20)  # fmt: skip
    finally:
        await bus.close()
    assert _value(registry, "hpo_events_failed_total", **labels, type="trial.started") == 2
    assert _value(registry, "hpo_event_retries_total", **labels, type="trial.started") == 2
    assert _value(registry, "hpo_database_errors_total", service="health") == 2
    assert _value(registry, "hpo_events_published_total", service="health", type="trial.started") == 1


def test_readiness_and_the_broker_connection_are_read_at_every_scrape() -> None:
    metrics = ServiceMetrics("scheduler")
    state = {"ready": False, "connected": True}
    metrics.watch(lambda: state["ready"], lambda: state["connected"])
    assert _value(metrics.registry, "hpo_service_ready", service="scheduler") == 0
    state["ready"], state["connected"] = True, False
    assert _value(metrics.registry, "hpo_service_ready", service="scheduler") == 1
    assert _value(metrics.registry, "hpo_broker_connected", service="scheduler") == 0


@pytest.mark.parametrize(
    ("error", "database"),
    [
        (sqlite3.OperationalError("locked"), True),
        (RetryableError("wrapped"), False),
        (ValueError("plain"), False),
    ],
)
def test_database_errors_are_recognised_through_their_causes(error: Exception, database: bool) -> None:
    assert caused_by_database(error) is database
    try:
        try:
            raise error
        except Exception as inner:
            raise RetryableError("translated at the adapter") from inner
    except RetryableError as outer:
        assert caused_by_database(outer) is database


async def test_an_event_of_a_superseded_attempt_is_counted_as_stale_not_failed_and_acknowledged() -> None:
    from services.runtime.errors import StaleEvent

    metrics = ServiceMetrics("reporter")
    inner = InMemoryBus(on_dead_letter=metrics.dead_lettered)
    bus = InstrumentedBus(inner, metrics)
    seen: list[Event] = []

    async def fenced(event: Event) -> None:
        seen.append(event)
        raise StaleEvent("attempt 1 of trial t1 was superseded by attempt 2")

    await bus.start()
    await bus.subscribe("reporter", ["trial.started"], fenced)
    labels = {"service": "reporter", "queue": "reporter", "type": "trial.started"}
    try:
        await bus.publish(trial_started("s1", "t1"))
        await eventually(lambda: _value(metrics.registry, "hpo_stale_events_total", **labels) == 1, "the stale count")
        await inner.wait_idle()
    finally:
        await bus.close()
    assert len(seen) == 1, "a stale event is acknowledged, never redelivered"
    assert _value(metrics.registry, "hpo_events_failed_total", **labels) == 0
    for cause in ("malformed", "fatal", "gave_up"):
        assert (
            _value(
                metrics.registry, "hpo_messages_dead_lettered_total", service="reporter", queue="reporter", cause=cause
            )
            == 0
        )
