"""Prometheus metrics every service exports, and a Bus wrapper that records them.

Every metric, its labels and its meaning are listed once, in ``catalog.py``; the domain metrics of the
scheduler, trainers and health service are in ``studies.py``, ``training.py`` and ``health.py``.
The counters of a queue are created at zero for every event type it binds, so a dashboard shows 0
rather than nothing before the first failure.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.events import Event, EventEnvelope
from services.runtime.bus.delivery import DeadLetterCause
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES, Bus, DeadLetter, Handler, Subscription
from services.runtime.errors import StaleEvent

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120)
FAILED_IDS_KEPT = 10_000
DATABASE_ERROR_MODULES = frozenset({"sqlalchemy", "psycopg", "psycopg2", "psycopg_pool", "sqlite3", "alembic"})
DATABASE_ERROR_NAMES = frozenset({"StorageInternalError"})  # Optuna's storage wraps the driver's error in it


def caused_by_database(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is a database driver's or SQLAlchemy's error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        if kind.__module__.split(".")[0] in DATABASE_ERROR_MODULES or kind.__name__ in DATABASE_ERROR_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False


class ServiceMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None, *, queue_prefix: str = "") -> None:
        """``queue_prefix``: the broker's queue-name prefix, which dead-letter counts name queues with."""
        self.service = service
        self._queue_prefix = queue_prefix
        self.registry = registry or CollectorRegistry()
        labels = ["service", "queue", "type"]
        self.published = Counter(
            "hpo_events_published", "Events published.", ["service", "type"], registry=self.registry
        )
        self.handled = Counter("hpo_events_handled", "Events handled successfully.", labels, registry=self.registry)
        self.failed = Counter("hpo_events_failed", "Handler failures (before retry).", labels, registry=self.registry)
        self.retries = Counter(
            "hpo_event_retries",
            "Handler calls for an event whose previous call on this queue failed.",
            labels,
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "hpo_event_handler_seconds", "Handler time.", labels, buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.lag_seconds = Histogram(
            "hpo_event_lag_seconds", "Event time to handling.", labels, buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.dead_lettered_total = Counter(
            "hpo_messages_dead_lettered",
            "Messages moved to a dead-letter queue.",
            ["service", "queue", "cause"],
            registry=self.registry,
        )
        self.stale = Counter(
            "hpo_stale_events", "Events of superseded attempts, ignored.", labels, registry=self.registry
        )
        self.database_errors = Counter(
            "hpo_database_errors",
            "Handler failures caused by a database error.",
            ["service"],
            registry=self.registry,
        )
        self.ready = Gauge("hpo_service_ready", "1 while the service is ready.", ["service"], registry=self.registry)
        self.broker_connected = Gauge(
            "hpo_broker_connected", "1 while the broker connection is open.", ["service"], registry=self.registry
        )
        self.database_errors.labels(service)
        self._failed_ids: OrderedDict[tuple[str, str], None] = OrderedDict()

    def watch(self, ready: Callable[[], bool], broker_connected: Callable[[], bool]) -> None:
        """Export readiness and the broker connection, read at every scrape."""
        self.ready.labels(self.service).set_function(lambda: float(ready()))
        self.broker_connected.labels(self.service).set_function(lambda: float(broker_connected()))

    def dead_lettered(self, queue: str, cause: DeadLetterCause, reason: str) -> None:
        """Count one dead-lettered message by its cause (a ``DeadLetterHook`` for the buses)."""
        self.dead_lettered_total.labels(self.service, queue, cause.value).inc()

    def queue_bound(self, queue: str, bindings: Sequence[str]) -> None:
        """Create the counters of ``queue`` at zero for every event type it binds (not for wildcards) and
        every dead-letter cause, so that the first failure is an increase and not a new series."""
        for binding in bindings:
            if "*" in binding or "#" in binding:
                continue
            for counter in (self.handled, self.failed, self.retries, self.stale):
                counter.labels(self.service, queue, binding)
        for cause in DeadLetterCause:
            self.dead_lettered_total.labels(self.service, self._queue_prefix + queue, cause.value)

    def handler_failed(self, queue: str, event: Event, exc: BaseException) -> None:
        self.failed.labels(self.service, queue, event.type).inc()
        if caused_by_database(exc):
            self.database_errors.labels(self.service).inc()
        self._failed_ids[(queue, event.id)] = None
        self._failed_ids.move_to_end((queue, event.id))
        while len(self._failed_ids) > FAILED_IDS_KEPT:
            self._failed_ids.popitem(last=False)

    def handler_called(self, queue: str, event: Event) -> None:
        if (queue, event.id) in self._failed_ids:
            self.retries.labels(self.service, queue, event.type).inc()

    def handler_succeeded(self, queue: str, event: Event) -> None:
        self.handled.labels(self.service, queue, event.type).inc()
        self._failed_ids.pop((queue, event.id), None)


class InstrumentedBus:
    """A Bus that counts and times what passes through another Bus; same semantics otherwise."""

    def __init__(self, inner: Bus, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    async def publish(self, event: EventEnvelope) -> None:
        await self._inner.publish(event)
        self._metrics.published.labels(self._metrics.service, event.type).inc()

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        await self._inner.publish_raw(routing_key, body)

    async def declare(self, queues: Mapping[str, Sequence[str]]) -> None:
        await self._inner.declare(queues)

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
        metrics = self._metrics
        metrics.queue_bound(queue, bindings)

        async def measured(event: Event) -> None:
            labels = (metrics.service, queue, event.type)
            metrics.lag_seconds.labels(*labels).observe(max(0.0, (datetime.now(UTC) - event.time).total_seconds()))
            metrics.handler_called(queue, event)
            started = time.perf_counter()
            try:
                await handler(event)
            except StaleEvent:
                metrics.stale.labels(*labels).inc()
                raise
            except Exception as exc:
                metrics.handler_failed(queue, event, exc)
                raise
            finally:
                metrics.handler_seconds.labels(*labels).observe(time.perf_counter() - started)
            metrics.handler_succeeded(queue, event)

        return await self._inner.subscribe(
            queue, bindings, measured, prefetch=prefetch, exclusive=exclusive, max_deliveries=max_deliveries
        )

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        return await self._inner.dead_letters(queue)
