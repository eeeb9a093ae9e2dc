"""Live events fan-out: one bus subscription per API process, one bounded queue per listening client.

The hub binds its own exclusive queue (``api.<instance>``) to every event type it forwards (not heartbeats
or controls), so each API replica sees every such event. Events go only to listeners of their study. A slow
client cannot grow memory: when its queue is full the oldest event is dropped and the client is told how many
it missed. The latest
``recent_size`` events of the ``recent_studies`` latest studies are kept so that a client reconnecting
with ``Last-Event-ID`` gets what it missed (``replay_after``). Lifecycle events
of a trial the hub saw end already (a superseded attempt's) are not forwarded (``fencing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from contracts.events import EVENT_TYPES, Event
from services.runtime.bus.port import Bus, Subscription
from services.runtime.errors import StaleEvent
from services.runtime.fencing import ends_trial, is_stale

log = logging.getLogger(__name__)

QUEUE_PREFIX = "api"
IGNORED_TYPES = frozenset({"trial.heartbeat", "trial.control"})
FORWARDED_TYPES = tuple(t for t in EVENT_TYPES if t not in IGNORED_TYPES)
"""What the hub's queue is bound to: heartbeats and controls (one per epoch with a pruner) never reach it."""
FINAL_TYPES = frozenset({"report.ready"})
ENDED_TRIALS_KEPT = 100_000


@dataclass(eq=False)
class Listener:
    """One client's feed of one study's events."""

    study_id: str
    queue: asyncio.Queue[Event | None]
    """``None`` means the hub stopped: the client's stream ends."""
    dropped: int = 0

    def offer(self, event: Event | None) -> None:
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


@dataclass
class EventHub:
    """Routes bus events to the listeners of their study."""

    queue_size: int = 256
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _listeners: dict[str, set[Listener]] = field(default_factory=dict)
    _subscription: Subscription | None = None
    _ended: OrderedDict[str, None] = field(default_factory=OrderedDict)
    recent_size: int = 512
    """Events kept per study for ``Last-Event-ID`` replay."""
    recent_studies: int = 200
    _recent: OrderedDict[str, deque[Event]] = field(default_factory=OrderedDict)

    @property
    def queue_name(self) -> str:
        return f"{QUEUE_PREFIX}.{self.instance}"

    @property
    def listening(self) -> bool:
        return self._subscription is not None

    async def start(self, bus: Bus) -> None:
        if self._subscription is None:
            self._subscription = await bus.subscribe(
                self.queue_name, list(FORWARDED_TYPES), self.dispatch, prefetch=64, exclusive=True
            )

    async def stop(self) -> None:
        """Unsubscribe and end every open stream."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.cancel()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.offer(None)

    async def cancel(self) -> None:
        """The ``Subscription`` protocol: a ``RunningService`` stops the hub with its subscriptions."""
        await self.stop()

    async def dispatch(self, event: Event) -> None:
        """The bus handler: never waits on a client (it raises only ``StaleEvent``, which is acked)."""
        if event.type in IGNORED_TYPES:
            return
        if event.trial_id is not None:
            if is_stale(event, trial_ended=event.trial_id in self._ended):
                raise StaleEvent(f"{event.type} of trial {event.trial_id}, which ended already")
            if ends_trial(event):
                self._ended[event.trial_id] = None
                while len(self._ended) > ENDED_TRIALS_KEPT:
                    self._ended.popitem(last=False)
        self._keep(event)
        for listener in tuple(self._listeners.get(event.study_id, ())):
            listener.offer(event)

    def _keep(self, event: Event) -> None:
        recent = self._recent.get(event.study_id)
        if recent is None:
            recent = self._recent[event.study_id] = deque(maxlen=self.recent_size)
            while len(self._recent) > self.recent_studies:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(event.study_id)
        recent.append(event)

    def replay_after(self, study_id: str, event_id: str) -> list[Event] | None:
        """The study's kept events after ``event_id``, oldest first; None when that event is no longer kept
        (or never was): the client missed more than can be replayed and should reload its state."""
        recent = list(self._recent.get(study_id, ()))
        for index, event in enumerate(recent):
            if event.id == event_id:
                return recent[index + 1 :]
        return None

    @contextlib.contextmanager
    def listen(self, study_id: str) -> Iterator[Listener]:
        listener = Listener(study_id, asyncio.Queue(maxsize=self.queue_size))
        self._listeners.setdefault(study_id, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(study_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[study_id]

    def listener_count(self, study_id: str | None = None) -> int:
        if study_id is not None:
            return len(self._listeners.get(study_id, ()))
        return sum(len(v) for v in self._listeners.values())
