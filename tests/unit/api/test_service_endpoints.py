"""``/health``, ``/modes``, ``/objectives`` and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

from tests.unit.api.support import Api


async def test_health_reports_database_and_auth(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "version": "0.1.0",
        "auth": "token",
        "reads_protected": True,
    }


async def test_health_is_503_when_the_database_is_gone(api: Api, tmp_path: Path) -> None:
    api.repo.engine.dispose()
    (tmp_path / "read_models.sqlite").unlink()
    (tmp_path / "read_models.sqlite").mkdir()  # a folder where the database file was: every query fails
    response = await api.client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    jobs = await api.client.get("/jobs")
    assert jobs.status_code == 503
    assert "database is unavailable" in jobs.json()["detail"]


async def test_modes_and_objectives_list_choices_with_defaults(api: Api) -> None:
    modes = (await api.client.get("/modes")).json()
    assert [m["value"] for m in modes] == ["simple", "health", "pareto"]
    assert [m["value"] for m in modes if m["default"]] == ["health"]
    objectives = {o["value"]: o for o in (await api.client.get("/objectives")).json()}
    assert objectives["val_accuracy"]["default"] is True
    assert objectives["overall_health"]["modes"] == ["health", "pareto"]  # health-only objectives: not simple
    assert objectives["accuracy"]["modes"] == ["simple", "health", "pareto"]
    assert len(objectives) == 8


async def test_openapi_and_docs_are_served(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    for path in (
        "/health",
        "/datasets",
        "/datasets/{name}/preview",
        "/modes",
        "/objectives",
        "/optimize",
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/stop",
        "/jobs/{job_id}/trials",
        "/jobs/{job_id}/current-trial",
        "/jobs/{job_id}/best-trial",
        "/jobs/{job_id}/trends",
        "/jobs/{job_id}/download",
        "/jobs/{job_id}/events",
    ):
        assert path in schema["paths"], path
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert (await api.client.get("/docs")).status_code == 200


async def test_unknown_path_is_a_json_404(api: Api) -> None:
    response = await api.client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_the_interactive_docs_need_no_internet(api: Api) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc-local.js")):
        html = (await api.client.get(page)).text
        assert f"/docs-assets/{asset}" in html and "cdn" not in html and "https://" not in html.split("<body>")[0]
        served = await api.client.get(f"/docs-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 100_000 and b"cdn.redoc.ly" not in served.content
