"""Attacks on the API, each as a request: what must not happen, and that it fails safely.

Files outside the data folder, oversized grids, foreign Host headers, guessed tokens, and named tokens
with roles, owners and quotas (the walk-through with two submit tokens and one admin token).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.events import StudyCreated
from services.api.tokens import new_token, token_hash, token_problem
from services.runtime.db.tokens import TokenRepository
from tests.support.http import AUTH
from tests.support.read_models import seed_study
from tests.unit.api.support import Api, open_api


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "data_dir", ["/proc/self/environ", "/etc/passwd", "../../etc", "data/../../secrets", "~/x", "C:/x", "a\\..\\..\\b"]
)
async def test_a_client_cannot_point_a_study_at_a_file_of_its_choosing(api: Api, data_dir: str) -> None:
    response = await api.client.post("/optimize", json={"dataset": "text_csv", "data_dir": data_dir})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "data_dir" and "relative to the server's data folder" in error["msg"]
    await api.bus.wait_idle()
    assert api.published == [], "nothing was started"


async def test_a_folder_inside_the_data_folder_is_accepted(api: Api) -> None:
    response = await api.client.post("/optimize", json={"dataset": "text_csv", "data_dir": "reviews/2025"})
    assert response.status_code == 202
    await api.bus.wait_idle()
    (created,) = api.published
    assert isinstance(created, StudyCreated) and created.data.config.data_dir == "reviews/2025"


async def test_a_grid_too_large_for_memory_is_refused_with_the_limit(api: Api) -> None:
    extra = {"name": "dense_units", "type": "categorical", "choices": list(range(16, 176, 16))}
    response = await api.client.post(
        "/optimize", json={"dataset": "digits", "sampler": "grid", "search_space": [extra]}
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "349,920 points, more than the limit of 200,000" in message
    default_grid = await api.client.post("/optimize", json={"dataset": "digits", "sampler": "grid"})
    assert default_grid.status_code == 202, "the default space's grid (104,976 points) still runs"


async def test_a_web_page_cannot_reach_the_api_through_a_foreign_host_name(api: Api) -> None:
    response = await api.client.get("/jobs", headers={"Host": "attacker.example"})
    assert response.status_code == 400


async def test_guessing_tokens_is_slowed_down(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, authorized=False, failed_auth_limit=3):
        for attempt in range(3):
            assert (await api.client.get("/jobs", headers=_bearer(f"guess-{attempt}"))).status_code == 401
        blocked = await api.client.get("/jobs", headers=AUTH)
        assert blocked.status_code == 429, "even the right token waits once a client guessed too often"
        assert int(blocked.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("aaaaaaaaaaaaaaaa", "fewer than 8 distinct characters"),
        ("password12345678", "common word with digits"),
        ("  changeme  ", "well-known default"),
        ("short", "shorter than 16"),
    ],
)
def test_weak_admin_tokens_are_refused(token: str, problem: str) -> None:
    from pydantic import SecretStr

    assert problem in (token_problem(SecretStr(token)) or "")


def test_made_tokens_pass_the_policy() -> None:
    from pydantic import SecretStr

    assert token_problem(SecretStr(new_token())) is None


class Tokens:
    def __init__(self, api: Api) -> None:
        self._store = TokenRepository(api.repo.engine)

    def make(self, name: str, role: str, **quotas: int) -> dict[str, str]:
        token = new_token()
        self._store.create(name, role, token_hash(token), **quotas)
        return _bearer(token)

    def stored_hashes(self) -> list[str]:
        return [record.token_hash for record in self._store.all()]


async def test_two_submitters_and_an_admin(anonymous: Api) -> None:
    """Alice and Bob each see, stop and download their own jobs only; the admin sees and stops all."""
    api, tokens = anonymous, Tokens(anonymous)
    alice, bob = tokens.make("alice", "submit"), tokens.make("bob", "submit")
    reader = tokens.make("dashboard", "read")
    ops = tokens.make("ops", "admin")  # a named admin token, beside the settings' one
    seed_study(api.repo, "alice1", owner="alice")
    seed_study(api.repo, "bob1", owner="bob")
    seed_study(api.repo, "cli1")  # started from the CLI or the admin token: no owner

    def ids(page: dict[str, list[dict[str, str]]]) -> set[str]:
        return {job["job_id"] for job in page["items"]}

    assert ids((await api.client.get("/jobs", headers=alice)).json()) == {"alice1"}
    assert ids((await api.client.get("/jobs", headers=bob)).json()) == {"bob1"}
    assert ids((await api.client.get("/jobs", headers=AUTH)).json()) == {"alice1", "bob1", "cli1"}
    assert ids((await api.client.get("/jobs", headers=reader)).json()) == {"alice1", "bob1", "cli1"}
    assert ids((await api.client.get("/jobs", headers=ops)).json()) == {"alice1", "bob1", "cli1"}
    for path in ("/jobs/bob1", "/jobs/bob1/trials", "/jobs/bob1/trends", "/jobs/bob1/download"):
        assert (await api.client.get(path, headers=alice)).status_code == 404, f"{path}: bob's job is invisible"
    assert (await api.client.post("/jobs/bob1/stop", headers=alice)).status_code == 404
    assert (await api.client.post("/jobs/alice1/stop", headers=alice)).status_code == 202
    assert (await api.client.post("/jobs/bob1/stop", headers=reader)).status_code == 403, "read tokens only read"
    assert (await api.client.post("/jobs/bob1/stop", headers=AUTH)).status_code == 202, "the admin stops any job"
    assert (await api.client.post("/jobs/alice1/stop", headers=ops)).status_code == 202, "so does a named admin"

    submitted = await api.client.post("/optimize", json={"dataset": "digits", "trials": 2}, headers=alice)
    assert submitted.status_code == 202
    await api.bus.wait_idle()
    created = [e for e in api.published if isinstance(e, StudyCreated)]
    assert [e.data.owner for e in created] == ["alice"], "the job belongs to the token that started it"
    assert (await api.client.post("/optimize", json={"dataset": "digits"}, headers=reader)).status_code == 403
    raw = [header.removeprefix("Bearer ") for header in (alice["Authorization"], bob["Authorization"])]
    assert not set(raw) & set(tokens.stored_hashes()), "only hashes are stored"
    assert set(map(token_hash, raw)) <= set(tokens.stored_hashes())


async def test_quotas_per_token(anonymous: Api) -> None:
    api, tokens = anonymous, Tokens(anonymous)
    carol = tokens.make("carol", "submit", max_trial_epochs=50, max_running_studies=1)
    too_big = await api.client.post(
        "/optimize", json={"dataset": "digits", "trials": 20, "max_epochs": 5}, headers=carol
    )
    assert too_big.status_code == 403
    assert "trials x max_epochs = 100 is over this token's quota of 50" in too_big.json()["detail"]
    first = await api.client.post("/optimize", json={"dataset": "digits", "trials": 10, "max_epochs": 5}, headers=carol)
    assert first.status_code == 202
    second = await api.client.post("/optimize", json={"dataset": "digits", "trials": 2, "max_epochs": 2}, headers=carol)
    assert second.status_code == 429 and "quota is 1" in second.json()["detail"]


async def test_a_revoked_token_is_refused_at_once(anonymous: Api) -> None:
    api, tokens = anonymous, Tokens(anonymous)
    dave = tokens.make("dave", "submit")
    assert (await api.client.get("/jobs", headers=dave)).status_code == 200
    assert TokenRepository(api.repo.engine).revoke("dave")
    assert (await api.client.get("/jobs", headers=dave)).status_code == 401
