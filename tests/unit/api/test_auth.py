"""Bearer tokens: 401 (never 500) without a valid one, reads protected unless opened, and a service that
refuses to start with no token or a well-known one outside development."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from services.api.app import create_app
from services.api.settings import ApiSettings, load_settings
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from services.runtime.errors import UserInputError
from tests.support.http import AUTH, TOKEN
from tests.support.read_models import seed_study, sqlite_repository
from tests.unit.api.support import Api, open_api

MUTATING = [
    ("POST", "/optimize", {"dataset": "digits"}),
    ("POST", "/jobs/run1/stop", None),
    ("GET", "/jobs/run1/download", None),
]
READS = ["/jobs", "/jobs/run1", "/jobs/run1/trials", "/jobs/run1/best-trial", "/jobs/run1/trends", "/datasets"]


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {b"Authorization": "Bearer \u00e9\u00e9\u00e9".encode("latin-1")},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
    ids=["missing", "wrong", "basic", "empty", "non-ascii", "longer"],
)
async def test_mutating_endpoints_need_the_token(
    anonymous: Api, method: str, path: str, body: object, headers: Mapping[str, str] | Mapping[bytes, bytes]
) -> None:
    api = anonymous
    seed_study(api.repo, "run1")
    response = await api.client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in response.json()["detail"]
    await api.bus.wait_idle()
    assert api.published == []


async def test_the_right_token_passes(anonymous: Api) -> None:
    api = anonymous
    seed_study(api.repo, "run1")
    assert (await api.client.post("/jobs/run1/stop", headers=AUTH)).status_code == 202
    lower = {"authorization": f"bearer {TOKEN}"}
    assert (await api.client.post("/optimize", json={"dataset": "digits"}, headers=lower)).status_code == 202
    padded = {"Authorization": f"Bearer  {TOKEN} "}
    assert (await api.client.post("/optimize", json={"dataset": "digits"}, headers=padded)).status_code == 202


async def test_reads_can_be_opened(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, authorized=False, open_reads=True):
        seed_study(api.repo, "run1", state="completed")
        for path in READS:
            assert (await api.client.get(path)).status_code == 200, path
        assert (await api.client.post("/jobs/run1/stop")).status_code == 401, "open reads open nothing else"


async def test_reads_are_protected_by_default(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, authorized=False):
        seed_study(api.repo, "run1", state="completed")
        for path in [*READS, "/modes", "/objectives", "/jobs/run1/events"]:
            response = await api.client.get(path)
            assert response.status_code == 401, path
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await api.client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401
        for path in READS:
            assert (await api.client.get(path, headers=AUTH)).status_code == 200, path
        assert (await api.client.get("/health")).status_code == 200  # probes stay open


@pytest.mark.parametrize("token", [None, "", "changeme", "secret", "CHANGETHIS", "short-token"])
def test_settings_refuse_missing_default_or_short_tokens(token: str | None) -> None:
    with pytest.raises(ValidationError, match="HPO_API_TOKEN"):
        ApiSettings(token=token)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_API_TOKEN", "changeme")
    with pytest.raises(UserInputError, match=r"refuses to start.*well-known default"):
        load_settings()
    monkeypatch.setenv("HPO_API_DEVELOPMENT", "true")
    assert load_settings().development is True
    monkeypatch.delenv("HPO_API_TOKEN")
    monkeypatch.delenv("HPO_API_DEVELOPMENT")
    with pytest.raises(UserInputError, match="HPO_API_TOKEN is not set"):
        load_settings()
    monkeypatch.setenv("HPO_API_TOKEN", TOKEN)
    monkeypatch.setenv("HPO_API_PORT", "8123")
    loaded = load_settings()
    assert loaded.port == 8123 and loaded.token is not None and loaded.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(loaded)


def test_create_app_refuses_a_default_secret_outside_development(tmp_path: Path) -> None:
    repo = sqlite_repository(tmp_path / "db.sqlite")
    unsafe = ApiSettings.model_construct(token=SecretStr("changeme"), development=False)
    with pytest.raises(UserInputError, match="refuses to start"):
        create_app(InMemoryBus(), repo, LocalArtifactStore(tmp_path / "a"), unsafe)
    repo.engine.dispose()


async def test_development_without_a_token_is_open(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, authorized=False, token=None, development=True):
        assert (await api.client.get("/health")).json()["auth"] == "disabled"
        assert (await api.client.post("/optimize", json={"dataset": "digits"})).status_code == 202


async def test_development_with_a_token_still_checks_it(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, authorized=False, token="dev", development=True):
        assert (await api.client.post("/optimize", json={"dataset": "digits"})).status_code == 401
        ok = await api.client.post("/optimize", json={"dataset": "digits"}, headers={"Authorization": "Bearer dev"})
        assert ok.status_code == 202
