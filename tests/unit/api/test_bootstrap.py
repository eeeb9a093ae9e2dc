"""The API served by uvicorn inside the caller's loop (as ``hpo serve api`` runs it), over real HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from services.api import bootstrap
from services.cli.serve import SERVICES, starter_for
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.errors import UserInputError
from tests.support.events import STREAMED_KINDS, end_events, trial_events
from tests.support.http import AUTH
from tests.support.read_models import seed_study, sqlite_repository
from tests.unit.api.support import settings


async def test_served_over_http_with_a_live_stream(tmp_path: Path) -> None:
    bus = InMemoryBus()
    repo = sqlite_repository(tmp_path / "db.sqlite")
    seed_study(repo, "s1")
    running = await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=0))
    try:
        assert running.port > 0
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            assert (await client.get("/health")).json()["status"] == "ok"
            assert (await client.post("/jobs/s1/stop")).status_code == 401
            async with client.stream("GET", "/jobs/s1/events", headers=AUTH) as response:
                lines = response.aiter_lines()
                assert await anext(lines) == "event: snapshot"
                assert (await client.post("/jobs/s1/stop", headers=AUTH)).status_code == 202
                for event in [*trial_events("s1"), *end_events("s1")]:
                    await bus.publish(event)
                received = [line async for line in lines]
        kinds = [line.removeprefix("event: ") for line in received if line.startswith("event: ")]
        assert kinds == ["study.stop_requested", *STREAMED_KINDS]
        data = [json.loads(line.removeprefix("data: ")) for line in received if line.startswith("data: ")]
        assert data[0]["job_id"] == "s1" and data[1]["type"] == "study.stop_requested"
    finally:
        await running.stop()
        await bus.close()
        repo.engine.dispose()


async def test_stop_ends_open_streams_and_frees_the_port(tmp_path: Path) -> None:
    bus = InMemoryBus()
    repo = sqlite_repository(tmp_path / "db.sqlite")
    seed_study(repo, "s1")
    running = await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=0))
    async with (
        httpx.AsyncClient(base_url=running.url, timeout=10) as client,
        client.stream("GET", "/jobs/s1/events", headers=AUTH) as response,
    ):
        lines = response.aiter_lines()
        assert await anext(lines) == "event: snapshot"
        await asyncio.wait_for(running.stop(), timeout=10)
        rest = [line async for line in lines]
    assert "event: end" in rest
    again = await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=running.port))
    await again.stop()
    await bus.close()
    repo.engine.dispose()


async def test_a_busy_port_is_a_user_error(tmp_path: Path) -> None:
    bus = InMemoryBus()
    repo = sqlite_repository(tmp_path / "db.sqlite")
    first = await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=0))
    try:
        with pytest.raises(UserInputError, match="cannot listen"):
            await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=first.port))
    finally:
        await first.stop()
        await bus.close()
        repo.engine.dispose()


def test_hpo_serve_api_refuses_a_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "api" in SERVICES
    monkeypatch.delenv("HPO_API_DEVELOPMENT", raising=False)
    monkeypatch.setenv("HPO_API_TOKEN", "changeme")
    with pytest.raises(UserInputError, match=r"refuses to start.*HPO_API_TOKEN is a well-known default"):
        starter_for("api")
    monkeypatch.delenv("HPO_API_TOKEN")
    with pytest.raises(UserInputError, match="HPO_API_TOKEN is not set"):
        starter_for("api")


async def test_hpo_serve_api_needs_a_migrated_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HPO_API_TOKEN", "a-long-enough-random-token-123")
    monkeypatch.setenv("HPO_API_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(UserInputError, match="no schema; run 'hpo db upgrade'"):
        await starter_for("api")(InMemoryBus())
