"""Transport: the Bus port and its implementations."""

from services.runtime.bus.memory import InMemoryBus
from services.runtime.bus.port import Bus, DeadLetter, Handler, Subscription

__all__ = ["Bus", "DeadLetter", "Handler", "InMemoryBus", "Subscription"]
