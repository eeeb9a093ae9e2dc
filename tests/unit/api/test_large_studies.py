"""A large study's pages: its trial counts are reused for a moment instead of counted on every request,
a small study's are always fresh, and the trials page's total agrees with the counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from services.api.context import COUNTS_REUSED_FROM_TRIALS
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.schema import trials as trials_table
from tests.unit.api.support import open_api


def _bulk_trials(repo: ReadModelRepository, study_id: str, count: int) -> None:
    repo.upsert_study(study_id, name=study_id, state="running")
    rows = [
        {"trial_id": f"{study_id}-{n}", "study_id": study_id, "number": n, "state": "completed", "score": n / count}
        for n in range(count)
    ]
    with repo.engine.begin() as conn:
        conn.execute(sa.insert(trials_table), rows)


async def test_a_large_studys_counts_are_reused_briefly_then_refreshed(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, counts_cache_seconds=0.5):
        _bulk_trials(api.repo, "big", COUNTS_REUSED_FROM_TRIALS)
        first = (await api.client.get("/jobs/big")).json()
        assert first["counts"] == {"completed": COUNTS_REUSED_FROM_TRIALS}
        api.repo.upsert_trial("big-new", "big", number=COUNTS_REUSED_FROM_TRIALS, state="running")

        reused = (await api.client.get("/jobs/big")).json()
        page = (await api.client.get("/jobs/big/trials", params={"limit": 1})).json()
        assert reused["counts"] == {"completed": COUNTS_REUSED_FROM_TRIALS}
        assert page["total"] == COUNTS_REUSED_FROM_TRIALS

        await asyncio.sleep(0.6)
        fresh = (await api.client.get("/jobs/big")).json()
        running = (await api.client.get("/jobs/big/trials", params={"state": "running"})).json()
        assert fresh["counts"] == {"completed": COUNTS_REUSED_FROM_TRIALS, "running": 1}
        assert running["total"] == 1 and [t["trial_id"] for t in running["items"]] == ["big-new"]


async def test_a_small_studys_counts_are_always_fresh(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, counts_cache_seconds=60):
        _bulk_trials(api.repo, "small", 5)
        assert (await api.client.get("/jobs/small")).json()["counts"] == {"completed": 5}
        api.repo.upsert_trial("small-new", "small", number=5, state="running")
        assert (await api.client.get("/jobs/small")).json()["counts"] == {"completed": 5, "running": 1}
        assert (await api.client.get("/jobs/small/trials")).json()["total"] == 6


async def test_a_large_studys_trends_are_reused_briefly_and_a_small_studys_never(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, counts_cache_seconds=0.5):
        _bulk_trials(api.repo, "big", COUNTS_REUSED_FROM_TRIALS)
        _bulk_trials(api.repo, "small", 5)
        first = (await api.client.get("/jobs/big/trends")).json()
        assert first["trials_total"] == COUNTS_REUSED_FROM_TRIALS
        api.repo.upsert_trial("big-new", "big", number=COUNTS_REUSED_FROM_TRIALS, state="completed", score=2.0)
        api.repo.upsert_trial("small-new", "small", number=5, state="completed", score=2.0)

        assert (await api.client.get("/jobs/big/trends")).json() == first  # the same body, within the moment
        other_page = (await api.client.get("/jobs/big/trends", params={"max_trials": 10})).json()
        assert other_page["trials_total"] == COUNTS_REUSED_FROM_TRIALS + 1, "other parameters are their own read"
        assert (await api.client.get("/jobs/small/trends")).json()["trials_total"] == 6
        assert (await api.client.get("/jobs/big/trends", headers={"Authorization": "Bearer wrong"})).status_code == 401

        await asyncio.sleep(0.6)
        fresh = (await api.client.get("/jobs/big/trends")).json()
        assert fresh["trials_total"] == COUNTS_REUSED_FROM_TRIALS + 1
        assert fresh["trials"][-1]["best_score"] == 2.0
