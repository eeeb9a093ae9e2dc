"""``GET /jobs/{id}/events``: only that job's events, in order, ending after ``report.ready``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.events import EVENT_TYPES, Event, EventEnvelope
from services.api.app import create_app
from services.api.stream import FORWARDED_TYPES, EventHub, Listener
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from tests.support.events import STREAMED_KINDS, end_events, trial_events
from tests.support.http import AUTH
from tests.support.read_models import seed_study, sqlite_repository
from tests.support.waiting import eventually
from tests.unit.api.support import Api, parse_sse, settings, store_bundle


async def _until_listening(api: Api, job_id: str, count: int = 1) -> None:
    hub: EventHub = api.app.state.hpo.hub
    await eventually(lambda: hub.listener_count(job_id) >= count, "the stream to start listening", timeout=5.0)


async def _publish(api: Api, events: Sequence[EventEnvelope]) -> None:
    for event in events:
        await api.bus.publish(event)
    await api.bus.wait_idle()


async def test_stream_carries_only_its_jobs_events_and_ends_after_the_report(api: Api) -> None:
    seed_study(api.repo, "s1")
    seed_study(api.repo, "s2")
    first = asyncio.create_task(api.client.get("/jobs/s1/events"))
    second = asyncio.create_task(api.client.get("/jobs/s2/events"))
    await _until_listening(api, "s1")
    await _until_listening(api, "s2")
    await _publish(api, [*trial_events("s2", 7), *trial_events("s1", 4), *trial_events("s2", 8)])
    await _publish(api, [*end_events("s1"), *end_events("s2")])
    one, two = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)

    assert one.status_code == 200
    assert one.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(one.text)
    kinds = [kind for kind, _ in frames]
    assert kinds == ["snapshot", *STREAMED_KINDS]
    assert json.loads(frames[0][1])["job_id"] == "s1"
    for _, data in frames[1:-1]:
        assert json.loads(data)["study_id"] == "s1"
    assert json.loads(frames[2][1])["data"]["telemetry"]["val_accuracy"] == 0.55
    assert json.loads(frames[-1][1]) == {"job_id": "s1", "state": "completed"}

    numbers = [json.loads(d)["data"].get("trial_number") for k, d in parse_sse(two.text) if k.startswith("trial.")]
    assert set(numbers) == {7, 8}
    assert api.app.state.hpo.hub.listener_count() == 0  # listeners are released when streams end


async def test_a_finished_job_with_results_gets_a_snapshot_and_the_end(api: Api) -> None:
    seed_study(api.repo, "done", state="completed")
    store_bundle(api.artifacts, "done")
    response = await asyncio.wait_for(api.client.get("/jobs/done/events"), timeout=5)
    assert [kind for kind, _ in parse_sse(response.text)] == ["snapshot", "end"]


async def test_a_finished_job_without_results_waits_for_the_report(api: Api) -> None:
    seed_study(api.repo, "done", state="completed")
    task = asyncio.create_task(api.client.get("/jobs/done/events"))
    await _until_listening(api, "done")
    await asyncio.sleep(0.5)  # keepalives go out meanwhile
    await _publish(api, end_events("done")[1:])
    response = await asyncio.wait_for(task, timeout=5)
    assert ": keepalive" in response.text
    assert [kind for kind, _ in parse_sse(response.text)] == ["snapshot", "report.ready", "end"]


async def test_a_submitted_job_can_be_streamed_before_the_reporter_records_it(api: Api) -> None:
    job_id = (await api.client.post("/optimize", json={"dataset": "digits"}, headers=AUTH)).json()["job_id"]
    task = asyncio.create_task(api.client.get(f"/jobs/{job_id}/events"))
    await _until_listening(api, job_id)
    await _publish(api, [*trial_events(job_id), *end_events(job_id)])
    frames = parse_sse((await asyncio.wait_for(task, timeout=5)).text)
    assert json.loads(frames[0][1])["state"] == "submitted"
    assert frames[-1][0] == "end"


async def test_stream_of_an_unknown_job_is_404(api: Api) -> None:
    response = await api.client.get("/jobs/ghost/events")
    assert response.status_code == 404


async def test_stream_needs_the_hub(api: Api) -> None:
    seed_study(api.repo, "s1")
    await api.app.state.hpo.hub.stop()
    response = await api.client.get("/jobs/s1/events")
    assert response.status_code == 503
    assert "live stream" in response.json()["detail"]


async def test_a_slow_listener_keeps_only_the_newest_events() -> None:
    listener = Listener("s1", asyncio.Queue(maxsize=3))
    events = trial_events("s1") + trial_events("s1", 1)
    for event in events:
        listener.offer(event)
    assert listener.queue.qsize() == 3
    assert listener.take_dropped() == len(events) - 3
    assert listener.take_dropped() == 0
    kept = [listener.queue.get_nowait() for _ in range(3)]
    assert kept == events[-3:]


async def test_a_slow_client_is_told_what_it_missed(api: Api) -> None:
    seed_study(api.repo, "s1")
    hub: EventHub = api.app.state.hpo.hub
    hub.queue_size = 2
    task = asyncio.create_task(api.client.get("/jobs/s1/events"))
    await _until_listening(api, "s1")
    # The ASGI transport runs the app in this loop: publishing everything before the stream task
    # runs again fills the client's queue.
    for event in [*trial_events("s1"), *trial_events("s1", 1), *end_events("s1")]:
        await hub.dispatch(event)
    frames = parse_sse((await asyncio.wait_for(task, timeout=5)).text)
    kinds = [kind for kind, _ in frames]
    assert kinds[:2] == ["snapshot", "lagged"]
    assert json.loads(frames[1][1])["dropped"] == 6  # 8 events (heartbeats never stream), 2 kept
    assert kinds[2:] == ["study.completed", "report.ready", "end"]


async def test_stopping_the_hub_ends_open_streams(api: Api) -> None:
    seed_study(api.repo, "s1")
    task = asyncio.create_task(api.client.get("/jobs/s1/events"))
    await _until_listening(api, "s1")
    await api.app.state.hpo.hub.stop()
    frames = parse_sse((await asyncio.wait_for(task, timeout=5)).text)
    assert frames[-1][0] == "end"
    assert json.loads(frames[-1][1])["reason"] == "server shutting down"


@dataclass
class RecordingHub(EventHub):
    """An ``EventHub`` that records every event the bus delivered to it."""

    delivered: list[Event] = field(default_factory=list)

    async def dispatch(self, event: Event) -> None:
        self.delivered.append(event)
        await super().dispatch(event)


async def test_the_hubs_queue_gets_every_streamed_event_type_but_never_heartbeats_or_controls() -> None:
    bus = InMemoryBus()
    hub = RecordingHub()
    await hub.start(bus)
    try:
        async with hub.listen("s1"):
            for event in [*trial_events("s1"), *end_events("s1")]:
                await bus.publish(event)
            await bus.wait_idle()
    finally:
        await hub.stop()
        await bus.close()
    assert "trial.heartbeat" in {e.type for e in trial_events("s1")}  # published, and never delivered
    assert [e.type for e in hub.delivered] == [
        e.type for e in [*trial_events("s1"), *end_events("s1")] if e.type != "trial.heartbeat"
    ]
    assert set(FORWARDED_TYPES) == set(EVENT_TYPES) - {"trial.heartbeat", "trial.control"}


async def test_the_hub_takes_events_only_while_someone_listens_and_for_its_idle_time_after() -> None:
    bus = InMemoryBus()
    await bus.start()
    hub = RecordingHub(idle_seconds=0.2)
    delivered = hub.delivered
    await hub.start(bus)
    try:
        assert hub.listening and not hub.subscribed
        unwatched = trial_events("s1", 0)
        for event in unwatched:
            await bus.publish(event)
        await bus.wait_idle()
        assert delivered == []  # nobody listened: the hub had no queue, nothing reached it
        async with hub.listen("s1") as listener:
            assert hub.subscribed
            watched = trial_events("s1", 1)
            for event in watched:
                await bus.publish(event)
            await bus.wait_idle()
            assert [listener.queue.get_nowait().id for _ in range(listener.queue.qsize())] == [
                e.id for e in watched if e.type != "trial.heartbeat"
            ]
        assert hub.subscribed  # the idle time: a client reconnecting now still replays
        assert hub.replay_after("s1", watched[0].id) is not None
        await eventually(lambda: not hub.subscribed, "the idle hub to unsubscribe", timeout=5.0)
        assert hub.replay_after("s1", watched[0].id) is None  # a replay would have a gap: it is refused
        count = len(delivered)
        for event in trial_events("s1", 2):
            await bus.publish(event)
        await bus.wait_idle()
        assert len(delivered) == count
        async with hub.listen("s1"):  # the next client subscribes it again
            assert hub.subscribed
    finally:
        await hub.stop()
        await bus.close()
    assert not hub.subscribed


async def test_a_client_reconnecting_before_the_idle_time_ends_keeps_the_subscription() -> None:
    bus = InMemoryBus()
    await bus.start()
    hub = EventHub(idle_seconds=0.3)
    await hub.start(bus)
    try:
        async with hub.listen("s1"):
            pass
        await asyncio.sleep(0.15)
        async with hub.listen("s1"):
            await asyncio.sleep(0.3)  # past the first idle deadline: the reconnect cancelled it
            assert hub.subscribed
    finally:
        await hub.stop()
        await bus.close()


def test_the_idle_time_is_a_setting(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HPO_API_STREAM_IDLE_SECONDS", "7.5")
    repo = sqlite_repository(tmp_path / "read_models.sqlite")
    try:
        app = create_app(InMemoryBus(), repo, LocalArtifactStore(tmp_path / "artifacts"), settings())
        assert app.state.hpo.hub.idle_seconds == 7.5
    finally:
        repo.engine.dispose()
