"""Transport: the Bus port and its implementations.

``AmqpBus`` (RabbitMQ) is loaded on first use: it needs the optional extra ``hpo[amqp]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.runtime.bus.memory import InMemoryBus
from services.runtime.bus.port import Bus, DeadLetter, Handler, Publish, Subscription

if TYPE_CHECKING:
    from services.runtime.bus.amqp import AmqpBus

__all__ = ["AmqpBus", "Bus", "DeadLetter", "Handler", "InMemoryBus", "Publish", "Subscription"]


def __getattr__(name: str) -> object:
    if name == "AmqpBus":
        from services.runtime.bus.amqp import AmqpBus

        return AmqpBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
