"""The bridge is a trainer to the rest of the system: it consumes ``trainer.work`` with exactly what that queue
binds, and its own control feed carries only control events."""

from __future__ import annotations

from contracts.topology import DURABLE_QUEUES, TRAINER_WORK_QUEUE
from services.runpod.handlers import control_handlers, work_handlers


def test_the_bridge_consumes_the_trainers_work_queue_as_declared() -> None:
    assert work_handlers.name == TRAINER_WORK_QUEUE
    assert set(work_handlers.routing_keys()) == set(DURABLE_QUEUES[TRAINER_WORK_QUEUE])


def test_the_bridges_control_feed_carries_only_control_events() -> None:
    assert control_handlers.routing_keys() == ("trial.control",)
