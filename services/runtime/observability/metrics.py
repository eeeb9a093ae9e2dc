"""Prometheus metrics every service exports, and a Bus wrapper that records them.

- ``hpo_events_published_total{service,type}``
- ``hpo_events_handled_total{service,queue,type}`` and ``hpo_events_failed_total{service,queue,type}``
- ``hpo_event_handler_seconds{service,queue,type}`` (histogram)
- ``hpo_event_lag_seconds{service,queue,type}``: event time to start of handling (queue lag)
- ``hpo_messages_dead_lettered_total{service,queue,cause}``: messages moved to a dead-letter queue;
  ``cause`` is ``malformed``, ``fatal`` or ``gave_up`` (retries exhausted)
- ``hpo_stale_events_total{service,queue,type}``: events of superseded attempts or finished trials,
  acknowledged without effect (``StaleEvent``)
- ``hpo_trials_total{state}`` (scheduler: completed, pruned, failed) and
  ``hpo_epoch_seconds`` (trainer), recorded from the events a service handles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.events import Event, EventEnvelope, TrialCompleted, TrialEpochCompleted, TrialFailed, TrialPruned
from services.runtime.bus.delivery import DeadLetterCause
from services.runtime.bus.port import DEFAULT_MAX_DELIVERIES, Bus, DeadLetter, Handler, Subscription
from services.runtime.errors import StaleEvent

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120)
EPOCH_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)


class ServiceMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        labels = ["service", "queue", "type"]
        self.published = Counter(
            "hpo_events_published", "Events published.", ["service", "type"], registry=self.registry
        )
        self.handled = Counter("hpo_events_handled", "Events handled successfully.", labels, registry=self.registry)
        self.failed = Counter("hpo_events_failed", "Handler failures (before retry).", labels, registry=self.registry)
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
        self.trials = Counter("hpo_trials", "Finished trials by state.", ["state"], registry=self.registry)
        self.epoch_seconds = Histogram(
            "hpo_epoch_seconds", "Epoch duration.", buckets=EPOCH_BUCKETS, registry=self.registry
        )

    def dead_lettered(self, queue: str, cause: DeadLetterCause, reason: str) -> None:
        """Count one dead-lettered message by its cause (a ``DeadLetterHook`` for the buses)."""
        self.dead_lettered_total.labels(self.service, queue, cause.value).inc()

    def observe_event(self, event: Event) -> None:
        """Domain metrics read off the events a service sees."""
        if isinstance(event, TrialEpochCompleted):
            self.epoch_seconds.observe(event.data.telemetry.epoch_seconds)
        elif isinstance(event, TrialCompleted):
            self.trials.labels("completed").inc()
        elif isinstance(event, TrialPruned):
            self.trials.labels("pruned").inc()
        elif isinstance(event, TrialFailed):
            self.trials.labels("failed").inc()


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

        async def measured(event: Event) -> None:
            labels = (metrics.service, queue, event.type)
            metrics.lag_seconds.labels(*labels).observe(max(0.0, (datetime.now(UTC) - event.time).total_seconds()))
            started = time.perf_counter()
            try:
                await handler(event)
            except StaleEvent:
                metrics.stale.labels(*labels).inc()
                raise
            except Exception:
                metrics.failed.labels(*labels).inc()
                raise
            finally:
                metrics.handler_seconds.labels(*labels).observe(time.perf_counter() - started)
            metrics.handled.labels(*labels).inc()
            metrics.observe_event(event)

        return await self._inner.subscribe(
            queue, bindings, measured, prefetch=prefetch, exclusive=exclusive, max_deliveries=max_deliveries
        )

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        return await self._inner.dead_letters(queue)
