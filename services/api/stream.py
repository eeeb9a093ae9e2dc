"""Live events fan-out: one bus subscription per API process while anyone listens, one bounded queue per
listening client.

The hub binds its own exclusive queue (``api.<instance>``) to every event type it forwards (not heartbeats
or controls), so each API replica sees every such event, but only while it has listeners: the first
client to connect subscribes it (before the client's snapshot is read, so nothing is missed), and it
unsubscribes ``idle_seconds`` after the last one left. An API replica nobody watches thus costs RabbitMQ
and itself nothing per event (it took every event of every study before: some 10% of the pipeline's
CPU per trial). Events go only to listeners of their study. A slow client cannot grow memory: when its
queue is full the oldest event is dropped and the client is told how many it missed. The latest
``recent_size`` events of the ``recent_studies`` latest studies are kept so that a client reconnecting
with ``Last-Event-ID`` gets what it missed (``replay_after``); the buffer is cleared when the hub
unsubscribes, so a client back after a longer absence is told its replay is incomplete, never handed
one with a gap. Lifecycle events of a trial the hub saw end already (a superseded attempt's) are not
forwarded (``fencing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
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
IDLE_SECONDS = 300.0
"""How long the hub stays subscribed after its last listener left: a client reconnecting within it replays."""


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
    idle_seconds: float = IDLE_SECONDS
    _bus: Bus | None = None
    _subscribing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _idle_timer: asyncio.TimerHandle | None = None
    _unsubscribing: asyncio.Task[None] | None = None

    @property
    def queue_name(self) -> str:
        return f"{QUEUE_PREFIX}.{self.instance}"

    @property
    def listening(self) -> bool:
        """Started: streams can be opened (the bus subscription itself exists only while someone listens)."""
        return self._bus is not None

    @property
    def subscribed(self) -> bool:
        return self._subscription is not None

    async def start(self, bus: Bus) -> None:
        self._bus = bus

    async def stop(self) -> None:
        """Unsubscribe and end every open stream."""
        self._bus = None
        self._cancel_idle_timer()
        await self._unsubscribe()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.offer(None)

    async def subscribe(self) -> None:
        """Subscribe to the bus now unless subscribed (a stream route calls it before answering, so that a bus
        that cannot be reached is a 503, not a broken stream); ``listen`` does it too."""
        async with self._subscribing:
            if self._unsubscribing is not None:
                await self._unsubscribing  # an idle unsubscribe still closing: resubscribe after it
            if self._subscription is None and self._bus is not None:
                self._subscription = await self._bus.subscribe(
                    self.queue_name, list(FORWARDED_TYPES), self.dispatch, prefetch=64, exclusive=True
                )

    async def _unsubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        self._recent.clear()  # what it would replay now has a gap: a reconnecting client is told so
        if subscription is not None:
            await subscription.cancel()

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle(self) -> None:
        self._idle_timer = None
        if not self._listeners and self._subscription is not None:
            self._unsubscribing = asyncio.create_task(self._unsubscribe(), name=f"hub-idle:{self.instance}")
            self._unsubscribing.add_done_callback(lambda _: setattr(self, "_unsubscribing", None))

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

    @contextlib.asynccontextmanager
    async def listen(self, study_id: str) -> AsyncIterator[Listener]:
        """One client's feed; subscribes the hub first if nobody was listening."""
        listener = Listener(study_id, asyncio.Queue(maxsize=self.queue_size))
        self._listeners.setdefault(study_id, set()).add(listener)
        self._cancel_idle_timer()
        try:
            await self.subscribe()
            yield listener
        finally:
            listeners = self._listeners.get(study_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[study_id]
            if not self._listeners and self._bus is not None:
                self._idle_timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._idle)

    def listener_count(self, study_id: str | None = None) -> int:
        if study_id is not None:
            return len(self._listeners.get(study_id, ()))
        return sum(len(v) for v in self._listeners.values())
