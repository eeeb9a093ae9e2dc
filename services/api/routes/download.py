"""``GET /jobs/{id}/download``: the results ZIP, streamed from the artifact store."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from services.api.auth import ReaderDep
from services.api.context import ApiContext, ContextDep
from services.api.routes.common import JobId, errors
from services.runtime.artifacts.port import ArtifactNotFound, check_key

router = APIRouter(tags=["results"])

BUNDLE_KIND = "report_bundle"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_bundle_key(job_id: str) -> str:
    """Where the reporter puts a study's results ZIP unless the read model names another key."""
    return f"studies/{job_id}/results.zip"


async def bundle_key(ctx: ApiContext, job_id: str) -> str | None:
    """The key of the job's results ZIP when it is in the store, else None."""
    recorded = await ctx.db(ctx.repository.artifacts_for_study, job_id)
    keys = [a.key for a in recorded if a.kind == BUNDLE_KIND] + [default_bundle_key(job_id)]
    for key in keys:
        try:
            check_key(key)
        except ValueError:
            continue
        if await asyncio.to_thread(ctx.artifacts.exists, key):
            return key
    return None


@router.get(
    "/jobs/{job_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The results ZIP."}, **errors(401, 404)},
)
async def download(job_id: JobId, ctx: ContextDep, viewer: ReaderDep) -> FileResponse:
    """The results ZIP (plots, report, best model, trials.csv, health JSON); 404 until the report is built."""
    found, _ = await ctx.job(job_id, viewer)
    key = await bundle_key(ctx, job_id)
    if key is None:
        raise HTTPException(
            404,
            f"the results of job {job_id} are not ready (state: {found.state}); "
            "they are ready once the study has ended and its report is built",
        )
    folder = Path(tempfile.mkdtemp(prefix="hpo-api-download-"))
    try:
        path = await asyncio.to_thread(ctx.artifacts.get_file, key, folder / "results.zip")
    except ArtifactNotFound:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(404, f"the results of job {job_id} were removed from the artifact store") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    filename = f"{_UNSAFE.sub('_', found.name).strip('._') or job_id}.zip"
    return FileResponse(
        path,
        media_type="application/zip",
        filename=filename,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
