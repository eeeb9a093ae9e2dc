"""``POST /optimize``, ``GET /jobs``, ``GET /jobs/{id}``, ``POST /jobs/{id}/stop`` and request validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from contracts.events import StudyCreated, StudyStopRequested
from tests.support.http import AUTH
from tests.support.read_models import seed_study
from tests.unit.api.support import Api


async def test_optimize_publishes_study_created_and_returns_the_job_id(api: Api) -> None:
    body = {"dataset": "digits", "mode": "simple", "trials": 3, "max_epochs": 2, "study_name": "my_study"}
    response = await api.client.post("/optimize", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    accepted = response.json()
    await api.bus.wait_idle()
    [event] = api.published
    assert isinstance(event, StudyCreated)
    assert event.study_id == accepted["job_id"]
    assert event.source == "api"
    assert event.data.study_name == "my_study" == accepted["study_name"]
    assert event.data.config.trials == 3
    assert event.data.config.mode.value == "simple"
    assert accepted["links"]["events"] == f"/jobs/{accepted['job_id']}/events"

    job = (await api.client.get(f"/jobs/{accepted['job_id']}")).json()
    assert job["state"] == "submitted"  # the reporter has not recorded it yet
    assert job["config"]["trials"] == 3

    seed_study(api.repo, accepted["job_id"], trials=2)  # what the reporter writes once it sees the event
    job = (await api.client.get(f"/jobs/{accepted['job_id']}")).json()
    assert job["state"] == "running"
    assert job["counts"] == {"completed": 1, "running": 1}


async def test_optimize_generates_a_name_and_applies_defaults(api: Api) -> None:
    response = await api.client.post("/optimize", json={"dataset": "digits"}, headers=AUTH)
    assert response.status_code == 202
    name = response.json()["study_name"]
    assert name.startswith("digits_health_")
    await api.bus.wait_idle()
    created = api.published[0]
    assert isinstance(created, StudyCreated)
    assert created.data.config.trials == 10


async def test_two_studies_get_distinct_ids(api: Api) -> None:
    ids = set()
    for _ in range(2):
        ids.add((await api.client.post("/optimize", json={"dataset": "digits"}, headers=AUTH)).json()["job_id"])
    assert len(ids) == 2


async def test_invalid_enum_names_the_field_and_the_allowed_values(api: Api) -> None:
    response = await api.client.post("/optimize", json={"dataset": "digits", "mode": "fast"}, headers=AUTH)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "mode"
    assert error["allowed"] == ["simple", "health", "pareto"]
    assert "simple" in error["msg"] and "health" in error["msg"]

    response = await api.client.post("/optimize", json={"dataset": "nope"}, headers=AUTH)
    [error] = response.json()["detail"]
    assert error["field"] == "dataset"
    assert "mnist" in error["allowed"] and "digits" in error["allowed"]
    assert api.published == []


async def test_invalid_fields_are_each_named(api: Api) -> None:
    body = {"dataset": "digits", "trials": 0, "health_weight": 2, "colour": "red", "sampler": "x"}
    response = await api.client.post("/optimize", json=body, headers=AUTH)
    assert response.status_code == 422
    fields = {e["field"]: e for e in response.json()["detail"]}
    assert set(fields) == {"trials", "health_weight", "colour", "sampler"}
    assert fields["sampler"]["allowed"] == ["tpe", "random", "cmaes", "gp", "grid"]
    assert "greater than or equal to 1" in fields["trials"]["msg"]


async def test_a_health_objective_in_simple_mode_is_a_clear_422(api: Api) -> None:
    body = {"dataset": "digits", "mode": "simple", "optimize_for": "overall_health"}
    response = await api.client.post("/optimize", json=body, headers=AUTH)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "needs mode=health" in error["msg"]
    assert "val_accuracy" in error["msg"]
    assert "Traceback" not in response.text


async def test_unsafe_study_names_are_refused(api: Api) -> None:
    for name in ("../etc", "a/b", "", ".hidden", "x" * 101):
        response = await api.client.post("/optimize", json={"dataset": "digits", "study_name": name}, headers=AUTH)
        assert response.status_code == 422, name
        assert response.json()["detail"][0]["field"] == "study_name"


async def test_malformed_json_is_a_422_not_a_500(api: Api) -> None:
    response = await api.client.post(
        "/optimize", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_oversized_bodies_get_413(api: Api) -> None:
    big = b'{"dataset": "digits", "data_dir": "' + b"x" * (1024 * 1024) + b'"}'
    response = await api.client.post("/optimize", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    streamed = await api.client.post(
        "/optimize", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert api.published == []


async def test_jobs_are_paginated_newest_first(api: Api) -> None:
    for i in range(5):
        seed_study(api.repo, f"s{i}", trials=1, state="completed", created_at=datetime(2025, 1, i + 1, tzinfo=UTC))
    page = (await api.client.get("/jobs", params={"limit": 2})).json()
    assert page["total"] == 5
    assert [j["job_id"] for j in page["items"]] == ["s4", "s3"]
    page = (await api.client.get("/jobs", params={"offset": 4, "limit": 2})).json()
    assert [j["job_id"] for j in page["items"]] == ["s0"]
    assert (await api.client.get("/jobs", params={"limit": 0})).status_code == 422
    assert (await api.client.get("/jobs", params={"limit": 1000})).status_code == 422


async def test_unknown_job_is_404(api: Api) -> None:
    response = await api.client.get("/jobs/unknown")
    assert response.status_code == 404
    assert "no job with id 'unknown'" in response.json()["detail"]


async def test_stop_publishes_stop_requested(api: Api) -> None:
    seed_study(api.repo, "run1")
    response = await api.client.post("/jobs/run1/stop", headers=AUTH)
    assert response.status_code == 202
    assert response.json() == {"job_id": "run1", "state": "stopping"}
    await api.bus.wait_idle()
    [event] = api.published
    assert isinstance(event, StudyStopRequested)
    assert event.study_id == "run1"


async def test_stop_of_a_finished_or_unknown_job(api: Api) -> None:
    seed_study(api.repo, "done", state="completed")
    response = await api.client.post("/jobs/done/stop", headers=AUTH)
    assert response.status_code == 409
    assert "already completed" in response.json()["detail"]
    assert (await api.client.post("/jobs/ghost/stop", headers=AUTH)).status_code == 404
    await api.bus.wait_idle()
    assert api.published == []


async def test_resume_publishes_resume_requested_for_a_stopped_job_only(api: Api) -> None:
    from contracts.events import StudyResumeRequested

    seed_study(api.repo, "paused", state="stopped")
    seed_study(api.repo, "live", state="running")
    response = await api.client.post("/jobs/paused/resume")
    assert response.status_code == 202 and response.json() == {"job_id": "paused", "state": "resuming"}
    await api.bus.wait_idle()
    assert [e.study_id for e in api.published if isinstance(e, StudyResumeRequested)] == ["paused"]
    refused = await api.client.post("/jobs/live/resume")
    assert refused.status_code == 409 and "only a stopped job can be resumed" in refused.json()["detail"]
    assert (await api.client.post("/jobs/ghost/resume")).status_code == 404
