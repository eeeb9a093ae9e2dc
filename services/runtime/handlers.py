"""One typed handler table per service: the event class is the key, the handler's parameter is that class.

A service declares its handlers once, next to their code::

    handlers: HandlerTable[HealthDeps] = HandlerTable("health")

    @handlers.on(TrialEpochCompleted)
    async def on_epoch_completed(event: TrialEpochCompleted, deps: HealthDeps) -> None: ...

    @handlers.on(TrialPruned, TrialFailed)
    async def on_trial_ended(event: TrialPruned | TrialFailed, deps: HealthDeps) -> None: ...

and its bootstrap subscribes ``handlers.bind(deps)`` to its queue, bound to ``handlers.routing_keys()``
(checked against ``contracts/topology.py`` by ``tests/unit/runtime/test_topology.py``). mypy checks
that each handler accepts the classes it is registered for; events the table does not know are
acknowledged without effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from contracts.events import Event, EventEnvelope
from services.runtime.bus.port import Handler

D = TypeVar("D")
E1 = TypeVar("E1", bound=EventEnvelope)
E2 = TypeVar("E2", bound=EventEnvelope)
E3 = TypeVar("E3", bound=EventEnvelope)

HandlerFn = Callable[[Any, D], Awaitable[None]]


class HandlerTable(Generic[D]):
    """Event class -> handler, for one service's consumer; ``D`` is the dependencies every handler takes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: dict[str, HandlerFn[D]] = {}

    @overload
    def on(
        self, e1: type[E1], /
    ) -> Callable[[Callable[[E1, D], Awaitable[None]]], Callable[[E1, D], Awaitable[None]]]: ...

    @overload
    def on(
        self, e1: type[E1], e2: type[E2], /
    ) -> Callable[[Callable[[E1 | E2, D], Awaitable[None]]], Callable[[E1 | E2, D], Awaitable[None]]]: ...

    @overload
    def on(
        self, e1: type[E1], e2: type[E2], e3: type[E3], /
    ) -> Callable[[Callable[[E1 | E2 | E3, D], Awaitable[None]]], Callable[[E1 | E2 | E3, D], Awaitable[None]]]: ...

    def on(self, *event_classes: type[EventEnvelope]) -> Callable[[HandlerFn[D]], HandlerFn[D]]:
        """Register the decorated handler for each of ``event_classes`` (one handler per event type)."""

        def register(handler: HandlerFn[D]) -> HandlerFn[D]:
            for event_class in event_classes:
                event_type = event_type_of(event_class)
                if event_type in self._handlers:
                    raise ValueError(f"{self.name}: {event_type} already has a handler")
                self._handlers[event_type] = handler
            return handler

        return register

    def routing_keys(self) -> tuple[str, ...]:
        """The event types this table handles, in registration order: the queue's bindings."""
        return tuple(self._handlers)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def dispatch(self, event: Event, deps: D) -> None:
        """Run the handler of ``event``'s type; an event type without a handler is ignored."""
        handler = self._handlers.get(event.type)
        if handler is not None:
            await handler(event, deps)

    def bind(self, deps: D) -> Handler:
        """The bus handler of this table with ``deps`` applied."""

        async def handle(event: Event) -> None:
            await self.dispatch(event, deps)

        return handle


def event_type_of(event_class: type[EventEnvelope]) -> str:
    """The routing key of an event class (its ``type`` literal)."""
    default = event_class.model_fields["type"].default
    if not isinstance(default, str):
        raise TypeError(f"{event_class.__name__} is not an event class with a fixed type")
    return default
