"""``GET /jobs/{id}/download``: the stored results ZIP, only with the token, 404 while not ready."""

from __future__ import annotations

import io
import zipfile

from tests.support.http import AUTH
from tests.support.read_models import seed_study
from tests.unit.api.support import Api, store_bundle


async def test_download_streams_the_stored_zip(api: Api) -> None:
    seed_study(api.repo, "done", state="completed", name="digits_health_run")
    data = store_bundle(api.artifacts, "done")
    response = await api.client.get("/jobs/done/download", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="digits_health_run.zip"' in response.headers["content-disposition"]
    assert response.content == data
    assert zipfile.ZipFile(io.BytesIO(response.content)).namelist() == ["report.md", "trials.csv"]


async def test_download_uses_the_recorded_bundle_key(api: Api) -> None:
    seed_study(api.repo, "done", state="completed")
    api.artifacts.put_bytes("elsewhere/done.zip", b"PK-zip")
    api.repo.record_artifact("elsewhere/done.zip", kind="report_bundle", size_bytes=6, study_id="done")
    response = await api.client.get("/jobs/done/download", headers=AUTH)
    assert response.status_code == 200 and response.content == b"PK-zip"


async def test_download_before_the_results_exist_is_a_clear_404(api: Api) -> None:
    seed_study(api.repo, "run1")
    response = await api.client.get("/jobs/run1/download", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("the results of job run1 are not ready (state: running)")
    assert (await api.client.get("/jobs/ghost/download", headers=AUTH)).status_code == 404


async def test_download_needs_the_token(anonymous: Api) -> None:
    seed_study(anonymous.repo, "done", state="completed")
    store_bundle(anonymous.artifacts, "done")
    response = await anonymous.client.get("/jobs/done/download")
    assert response.status_code == 401


async def test_a_recorded_key_that_escapes_the_store_is_ignored(api: Api) -> None:
    seed_study(api.repo, "done", state="completed")
    api.repo.record_artifact("../../etc/passwd", kind="report_bundle", size_bytes=1, study_id="done")
    response = await api.client.get("/jobs/done/download", headers=AUTH)
    assert response.status_code == 404


async def test_a_study_name_cannot_inject_headers_or_paths(api: Api) -> None:
    seed_study(api.repo, "done", state="completed", name='../x"\r\nSet-Cookie: a')
    store_bundle(api.artifacts, "done")
    response = await api.client.get("/jobs/done/download", headers=AUTH)
    assert response.status_code == 200
    assert 'filename="x_Set-Cookie_a.zip"' in response.headers["content-disposition"]
    assert "set-cookie" not in response.headers
