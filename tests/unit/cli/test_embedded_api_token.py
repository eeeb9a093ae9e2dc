"""An embedded run's API is behind a token: HPO_API_TOKEN when set, else one made for the run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.cli.embedded import _start_api
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from tests.support.read_models import sqlite_repository


async def test_a_run_without_hpo_api_token_makes_one_and_requires_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPO_API_TOKEN", raising=False)
    bus, repo = InMemoryBus(), sqlite_repository(tmp_path / "r.sqlite")
    api, made = await _start_api(bus, repo, LocalArtifactStore(tmp_path / "a"), 0, None)
    try:
        assert made is not None and made.startswith("hpo_")
        async with httpx.AsyncClient(base_url=api.url) as client:
            assert (await client.get("/jobs")).status_code == 401
            assert (await client.get("/jobs", headers={"Authorization": f"Bearer {made}"})).status_code == 200
    finally:
        await api.stop()
        await bus.close()
        repo.engine.dispose()
