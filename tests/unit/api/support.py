"""API test helpers: the app over its real in-process ports (InMemoryBus, migrated SQLite, local
artifacts), its settings, a stored results ZIP and the SSE reader."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from contracts.events import Event
from services.api.app import create_app
from services.api.settings import LOCAL_HOSTS, ApiSettings
from services.cli.remote.client import parse_sse as read_sse
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.db.repository import ReadModelRepository
from tests.support.bus import collect_events
from tests.support.http import AUTH, TOKEN
from tests.support.read_models import sqlite_repository


def store_bundle(artifacts: LocalArtifactStore, study_id: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("report.md", "# results\n")
        bundle.writestr("trials.csv", "number,score\n0,0.5\n")
    data = buffer.getvalue()
    artifacts.put_bytes(f"studies/{study_id}/results.zip", data)
    return data


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    bus: InMemoryBus
    repo: ReadModelRepository
    artifacts: LocalArtifactStore
    published: list[Event]


API_HOST = "api"
"""The Host the test client sends (the app trusts it, as a deployment trusts its own name)."""


def settings(**overrides: Any) -> ApiSettings:
    """The test token, the test client's host and a short keepalive, plus ``overrides`` (ApiSettings fields)."""
    hosts = [API_HOST, "testserver", *LOCAL_HOSTS]  # starlette's and schemathesis's test clients say testserver
    defaults = {"token": TOKEN, "stream_keepalive_seconds": 0.2, "allowed_hosts": hosts}
    return ApiSettings(**{**defaults, **overrides})


async def open_api(tmp_path: Path, *, authorized: bool = True, **overrides: Any) -> AsyncIterator[Api]:
    """The app and a client that sends the admin token on every request (``authorized=False``: none)."""
    bus = InMemoryBus()
    repo = sqlite_repository(tmp_path / "read_models.sqlite")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    published = await collect_events(bus, "observer", ["study.*"])
    app = create_app(bus, repo, artifacts, settings(**overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = AUTH if authorized else {}
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{API_HOST}", headers=headers) as client:
            yield Api(app, client, bus, repo, artifacts, published)
    await bus.close()
    repo.engine.dispose()


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a Server-Sent Events body, read with the remote CLI's parser."""
    return [(event.name, event.data) for event in read_sse(iter(text.splitlines()))]
