"""The live stream resumes (``Last-Event-ID`` replays what a client missed, bounded) and has a WebSocket twin."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from services.api.app import create_app
from services.api.stream import EventHub
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from tests.support.events import end_events, trial_events
from tests.support.http import AUTH, TOKEN
from tests.support.read_models import seed_study, sqlite_repository
from tests.support.waiting import eventually
from tests.unit.api.support import Api, parse_sse, settings


async def _until_listening(api: Api, job_id: str) -> None:
    hub: EventHub = api.app.state.hpo.hub
    await eventually(lambda: hub.listener_count(job_id) >= 1, "the stream to start listening", timeout=5.0)


async def test_last_event_id_replays_the_missed_events_then_goes_live(api: Api) -> None:
    seed_study(api.repo, "s1")
    hub: EventHub = api.app.state.hpo.hub
    missed = trial_events("s1")  # started, heartbeat (never streamed), epoch, alert
    async with hub.listen("s1"):  # the client's earlier connection, which dropped after the first event
        for event in missed:
            await api.bus.publish(event)
        await api.bus.wait_idle()
    task = asyncio.create_task(api.client.get("/jobs/s1/events", headers={"Last-Event-ID": missed[0].id}))
    await _until_listening(api, "s1")
    for event in end_events("s1"):
        await api.bus.publish(event)
    frames = parse_sse((await asyncio.wait_for(task, timeout=10)).text)
    kinds = [kind for kind, _ in frames]
    assert kinds == [
        "snapshot",
        "trial.epoch_completed",
        "trial.health_alert",
        "study.completed",
        "report.ready",
        "end",
    ]
    assert json.loads(frames[1][1])["id"] == missed[2].id


async def test_an_id_older_than_the_buffer_says_the_replay_is_incomplete(api: Api) -> None:
    seed_study(api.repo, "s1")
    hub: EventHub = api.app.state.hpo.hub
    hub.recent_size = 2
    events = [*trial_events("s1", 0), *trial_events("s1", 1)]
    async with hub.listen("s1"):
        for event in events:
            await api.bus.publish(event)
        await api.bus.wait_idle()
    assert [e.type for e in hub.replay_after("s1", events[6].id) or []] == ["trial.health_alert"]
    assert hub.replay_after("s1", events[0].id) is None  # dropped from the bounded buffer
    task = asyncio.create_task(api.client.get("/jobs/s1/events", params={"last_event_id": events[0].id}))
    await _until_listening(api, "s1")
    for event in end_events("s1"):
        await api.bus.publish(event)
    kinds = [kind for kind, _ in parse_sse((await asyncio.wait_for(task, timeout=10)).text)]
    assert kinds == ["snapshot", "replay_incomplete", "study.completed", "report.ready", "end"]


@pytest.fixture
def socket_client(tmp_path: Path) -> Iterator[tuple[TestClient, InMemoryBus]]:
    bus = InMemoryBus()
    repo = sqlite_repository(tmp_path / "read_models.sqlite")
    seed_study(repo, "s1")
    app = create_app(bus, repo, LocalArtifactStore(tmp_path / "artifacts"), settings())
    with TestClient(app) as client:
        yield client, bus
    repo.engine.dispose()


def _publish(client: TestClient, bus: InMemoryBus, events: list[Any]) -> None:
    async def publish() -> None:
        for event in events:
            await bus.publish(event)
        await bus.wait_idle()

    assert client.portal is not None
    client.portal.call(publish)


def _until_listening_on(client: TestClient, job_id: str) -> None:
    hub: EventHub = client.app.state.hpo.hub  # type: ignore[attr-defined]
    assert client.portal is not None

    async def wait() -> None:
        await eventually(lambda: hub.listener_count(job_id) >= 1, "the socket to start listening", timeout=5.0)

    client.portal.call(wait)


def test_the_websocket_carries_the_same_events_as_the_stream(socket_client: tuple[TestClient, InMemoryBus]) -> None:
    client, bus = socket_client
    with client.websocket_connect("/jobs/s1/ws", headers=AUTH) as socket:
        snapshot = socket.receive_json()
        assert snapshot["event"] == "snapshot"
        assert snapshot["data"]["job_id"] == "s1"
        _until_listening_on(client, "s1")
        events = [*trial_events("s1"), *end_events("s1")]
        _publish(client, bus, events)
        frames = [socket.receive_json() for _ in range(6)]
    streamed = [e for e in events if e.type != "trial.heartbeat"]
    assert [f["event"] for f in frames] == [*(e.type for e in streamed), "end"]
    assert [f["id"] for f in frames[:-1]] == [e.id for e in streamed]
    assert frames[1]["data"]["data"]["telemetry"]["val_accuracy"] == 0.55


def test_a_browser_socket_sends_its_token_in_the_first_frame(socket_client: tuple[TestClient, InMemoryBus]) -> None:
    client, _ = socket_client
    with client.websocket_connect("/jobs/s1/ws") as socket:
        socket.send_text(json.dumps({"token": TOKEN}))
        assert socket.receive_json()["event"] == "snapshot"


def test_a_wrong_token_or_unknown_job_closes_the_socket_with_a_reason(
    socket_client: tuple[TestClient, InMemoryBus],
) -> None:
    client, _ = socket_client
    with client.websocket_connect("/jobs/s1/ws") as socket:
        socket.send_text(json.dumps({"token": "wrong"}))
        with pytest.raises(WebSocketDisconnect) as refused:
            socket.receive_json()
    assert refused.value.code == 4401
    assert "invalid bearer token" in refused.value.reason
    unknown_job = client.websocket_connect("/jobs/nope/ws", headers=AUTH)
    with unknown_job as socket, pytest.raises(WebSocketDisconnect) as unknown:
        socket.receive_json()
    assert unknown.value.code == 4404
