"""The best trial's held-out test figures and a pareto study's front over the API."""

from __future__ import annotations

from tests.support.read_models import seed_study
from tests.unit.api.support import Api

FRONT = {0: (0.95, 0.10), 1: (0.90, 0.50), 2: (0.85, 0.85), 3: (0.60, 0.92), 4: (0.50, 0.50)}


def _pareto_study(api: Api) -> None:
    api.repo.upsert_study(
        "p1", name="study_p1", state="completed", dataset="digits", mode="pareto", objective="val_accuracy",
        config={"dataset": "digits", "mode": "pareto"},
    )  # fmt: skip
    for number, (objective, health) in FRONT.items():
        metrics = {
            "val_accuracy": objective, "accuracy": objective, "training_seconds": 1.0, "parameter_count": 100 * number,
            "memory_mb": 1.0, "epochs_trained": 2, "test_accuracy": objective - 0.02, "test_loss": 0.4,
            "test_ece": 0.05, "test_robustness": {"gaussian_noise": 0.7}, "test_split": "made by the loader",
        }  # fmt: skip
        api.repo.upsert_trial(
            f"p1-t{number}", "p1", number=number, state="completed", params={"filters": 16}, val_accuracy=objective,
            score=objective, objective_score=objective, overall_health=health, metrics=metrics,
        )  # fmt: skip
    api.repo.set_study_state("p1", "completed", best_trial_id="p1-t2")


async def test_a_pareto_study_serves_its_front_and_the_knee(api: Api) -> None:
    _pareto_study(api)
    body = (await api.client.get("/jobs/p1/pareto")).json()
    assert [m["number"] for m in body["front"]] == [0, 1, 2, 3]  # #4 is dominated by #2
    assert body["recommended_trial"] == 2 and "knee" in body["rule"]
    assert body["objectives"] == ["objective_score(val_accuracy)", "overall_health"]
    assert body["front"][2]["test_accuracy"] == 0.83


async def test_the_best_trial_carries_its_test_figures(api: Api) -> None:
    _pareto_study(api)
    best = (await api.client.get("/jobs/p1/best-trial")).json()
    assert best["number"] == 2 and best["test_accuracy"] == 0.83 and best["test_loss"] == 0.4
    assert best["test_ece"] == 0.05 and best["test_robustness"] == {"gaussian_noise": 0.7}
    assert best["test_split"] == "made by the loader"


async def test_a_study_of_another_mode_has_no_front(api: Api) -> None:
    seed_study(api.repo, "s1", trials=3)
    response = await api.client.get("/jobs/s1/pareto")
    assert response.status_code == 404 and "not a pareto study" in response.json()["detail"]
    assert (await api.client.get("/jobs/s1/best-trial")).json()["test_accuracy"] is None
