"""A job's trials: pages, sorting, current and best trial, trends."""

from __future__ import annotations

from tests.support.read_models import seed_study
from tests.unit.api.support import Api


async def test_trials_page_and_total(api: Api) -> None:
    seed_study(api.repo, "s1", trials=12)
    seed_study(api.repo, "other", trials=3)
    page = (await api.client.get("/jobs/s1/trials", params={"limit": 5})).json()
    assert page["total"] == 12 and page["offset"] == 0 and page["limit"] == 5
    assert [t["number"] for t in page["items"]] == [0, 1, 2, 3, 4]
    page = (await api.client.get("/jobs/s1/trials", params={"offset": 10, "limit": 5})).json()
    assert [t["number"] for t in page["items"]] == [10, 11]
    first = page["items"][0]
    assert first["trial_id"] == "s1-t10" and first["params"]["filters"] == 176
    assert first["duration_seconds"] == 20.0


async def test_trials_sort_by_score_both_ways_with_missing_values_last(api: Api) -> None:
    seed_study(api.repo, "s1", trials=6)
    desc = (await api.client.get("/jobs/s1/trials", params={"sort": "score", "order": "desc"})).json()["items"]
    scores = [t["score"] for t in desc]
    assert scores[-1] is None  # the running trial
    assert scores[:-1] == sorted(scores[:-1], reverse=True)
    asc = (await api.client.get("/jobs/s1/trials", params={"sort": "score", "order": "asc"})).json()["items"]
    assert [t["score"] for t in asc][:-1] == sorted(scores[:-1])
    by_duration = (await api.client.get("/jobs/s1/trials", params={"sort": "duration", "order": "desc"})).json()
    assert by_duration["items"][0]["number"] == 4
    by_health = (await api.client.get("/jobs/s1/trials", params={"sort": "overall_health"})).json()
    assert by_health["items"][0]["number"] == 5


async def test_trials_filter_by_state(api: Api) -> None:
    seed_study(api.repo, "s1", trials=4)
    page = (await api.client.get("/jobs/s1/trials", params={"state": "running"})).json()
    assert page["total"] == 1 and page["items"][0]["number"] == 3


async def test_an_unknown_sort_field_lists_the_allowed_ones(api: Api) -> None:
    seed_study(api.repo, "s1")
    response = await api.client.get("/jobs/s1/trials", params={"sort": "params"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "sort"
    assert error["allowed"] == ["number", "score", "val_accuracy", "overall_health", "duration"]
    bad_order = (await api.client.get("/jobs/s1/trials", params={"order": "up"})).json()["detail"][0]
    assert bad_order["allowed"] == ["asc", "desc"]
    assert (await api.client.get("/jobs/s1/trials", params={"limit": 501})).status_code == 422
    assert (await api.client.get("/jobs/s1/trials", params={"offset": -1})).status_code == 422


async def test_current_and_best_trial(api: Api) -> None:
    seed_study(api.repo, "s1", trials=5)
    current = (await api.client.get("/jobs/s1/current-trial")).json()
    assert current["number"] == 4 and current["state"] == "running"
    best = (await api.client.get("/jobs/s1/best-trial")).json()
    assert best["number"] == 3 and best["score"] == 0.83
    api.repo.set_study_state("s1", "running", best_trial_id="s1-t1")  # the scheduler's recorded best wins
    assert (await api.client.get("/jobs/s1/best-trial")).json()["number"] == 1


async def test_no_current_or_best_trial_yet(api: Api) -> None:
    seed_study(api.repo, "s1", trials=1)  # one trial, still running
    api.repo.upsert_trial("s1-t0", "s1", state="completed", score=None)
    response = await api.client.get("/jobs/s1/current-trial")
    assert response.status_code == 404 and "no trial of job s1 is running" in response.json()["detail"]
    response = await api.client.get("/jobs/s1/best-trial")
    assert response.status_code == 404 and "no completed trial" in response.json()["detail"]


async def test_trial_endpoints_of_an_unknown_job_are_404(api: Api) -> None:
    for path in ("trials", "current-trial", "best-trial", "trends"):
        response = await api.client.get(f"/jobs/ghost/{path}")
        assert response.status_code == 404, path
        assert "no job with id 'ghost'" in response.json()["detail"]


async def test_trends_give_series_per_trial_and_per_epoch(api: Api) -> None:
    seed_study(api.repo, "s1", trials=5, epochs=3)
    trends = (await api.client.get("/jobs/s1/trends")).json()
    assert [p["number"] for p in trends["trials"]] == [0, 1, 2, 3, 4]
    assert [p["best_score"] for p in trends["trials"]] == [0.5, 0.61, 0.72, 0.83, 0.83]
    assert len(trends["epochs"]) == 15
    assert trends["epochs"][0] == {
        "trial_id": "s1-t0",
        "number": 0,
        "epoch": 1,
        "loss": 1.0,
        "accuracy": 0.5,
        "val_loss": 1.1,
        "val_accuracy": 0.4,
        "epoch_seconds": None,
    }
    assert trends["alerts"][0]["kind"] == "overfitting"
    lean = (await api.client.get("/jobs/s1/trends", params={"epochs": "false"})).json()
    assert lean["epochs"] == [] and len(lean["trials"]) == 5
