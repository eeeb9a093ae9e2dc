"""Every service's queue in the durable topology binds exactly the events its handler table handles."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.events import EVENT_TYPES
from contracts.topology import DURABLE_QUEUES, HEALTH_QUEUE, REPORTER_QUEUE, SCHEDULER_QUEUE, TRAINER_WORK_QUEUE
from services.health.handlers import handlers as health_handlers
from services.reporter.projections import handlers as reporter_handlers
from services.runtime.handlers import HandlerTable
from services.scheduler.handlers import handlers as scheduler_handlers
from services.trainer.handlers import control_handlers, work_handlers

SERVICE_TABLES: dict[str, HandlerTable[Any]] = {
    SCHEDULER_QUEUE: scheduler_handlers,
    HEALTH_QUEUE: health_handlers,
    REPORTER_QUEUE: reporter_handlers,
    TRAINER_WORK_QUEUE: work_handlers,
}


@pytest.mark.parametrize("queue", sorted(SERVICE_TABLES))
def test_each_durable_queue_binds_exactly_what_its_service_handles(queue: str) -> None:
    routing_keys = SERVICE_TABLES[queue].routing_keys()
    assert len(routing_keys) == len(set(routing_keys))
    assert set(DURABLE_QUEUES[queue]) == set(routing_keys)


def test_every_durable_queue_has_a_service_table() -> None:
    assert set(DURABLE_QUEUES) == set(SERVICE_TABLES)


def test_the_trainer_control_feed_carries_only_control_events() -> None:
    assert control_handlers.routing_keys() == ("trial.control",)


def test_every_binding_names_a_real_event_type() -> None:
    for queue, bindings in DURABLE_QUEUES.items():
        unknown = [key for key in bindings if key not in EVENT_TYPES]
        assert not unknown, f"{queue} binds unknown event types {unknown}"
