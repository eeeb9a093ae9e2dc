"""The durable topology in the contracts binds each service's queue to exactly the events it handles."""

from __future__ import annotations

from contracts.events import EVENT_TYPES
from contracts.topology import DURABLE_QUEUES, SCHEDULER_QUEUE
from services.scheduler.handlers import HANDLERS


def test_the_scheduler_queue_binds_exactly_the_events_the_scheduler_handles() -> None:
    assert set(DURABLE_QUEUES[SCHEDULER_QUEUE]) == set(HANDLERS)


def test_every_binding_names_a_real_event_type_or_everything() -> None:
    for queue, bindings in DURABLE_QUEUES.items():
        unknown = [key for key in bindings if key != "#" and key not in EVENT_TYPES]
        assert not unknown, f"{queue} binds unknown event types {unknown}"
