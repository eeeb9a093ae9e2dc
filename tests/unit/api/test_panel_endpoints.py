"""The control panel's reads: ``GET /jobs/summary`` (with its state filter) and ``GET /jobs/{id}/trials/{n}``."""

from __future__ import annotations

from datetime import timedelta

from contracts.architecture import LayerSpec
from tests.support.read_models import T0, seed_study
from tests.support.telemetry import epoch_telemetry, health_assessment, layer_telemetry
from tests.unit.api.support import Api

LAYERS = [
    LayerSpec(name="conv1", kind="Conv2D", output_shape=[8, 8, 16], units=16, filters=16, parameter_count=160),
    LayerSpec(name="conv1_pool", kind="MaxPooling2D", output_shape=[4, 4, 16], detail="pool 2x2"),
    LayerSpec(name="flatten", kind="Flatten", output_shape=[256]),
    LayerSpec(name="dense_dropout", kind="Dropout", output_shape=[256], detail="rate 0.3"),
    LayerSpec(name="classifier", kind="Dense", output_shape=[10], units=10, activation="softmax", parameter_count=2570),
]


async def test_the_summary_gives_progress_best_score_and_timing_and_filters_by_state(api: Api) -> None:
    seed_study(api.repo, "run", trials=4, state="running")
    seed_study(api.repo, "done", trials=3, state="completed")
    api.repo.set_study_state("done", "completed", completed_at=T0 + timedelta(minutes=5))

    every = (await api.client.get("/jobs/summary")).json()
    assert every["total"] == 2
    rows = {row["job_id"]: row for row in every["items"]}
    assert rows["run"]["finished_trials"] == 3
    assert rows["run"]["running_trials"] == 1
    assert rows["run"]["total_trials"] == 4
    assert rows["run"]["best_score"] == 0.72  # trial 2: 0.5 + 0.2 + 0.02; trial 3 still runs
    assert rows["run"]["duration_seconds"] > 0  # running: so far
    assert rows["done"]["best_score"] == 0.72
    assert rows["done"]["duration_seconds"] == 300.0

    running = (await api.client.get("/jobs/summary", params={"state": "running"})).json()
    assert [row["job_id"] for row in running["items"]] == ["run"]
    assert running["total"] == 1
    wrong = await api.client.get("/jobs/summary", params={"state": "sleeping"})
    assert wrong.status_code == 422


async def test_a_submitted_job_shows_in_the_summary_before_the_reporter_records_it(api: Api) -> None:
    accepted = (await api.client.post("/optimize", json={"dataset": "digits", "trials": 3})).json()
    rows = (await api.client.get("/jobs/summary")).json()["items"]
    assert rows[0]["job_id"] == accepted["job_id"]
    assert rows[0]["state"] == "submitted"
    assert rows[0]["total_trials"] == 3


async def test_trial_detail_carries_epochs_health_alerts_and_layers(api: Api) -> None:
    seed_study(api.repo, "s", trials=3, state="completed")
    layer = layer_telemetry("conv1", kind="Conv2D")
    api.repo.record_epoch(
        "s-t1",
        "s",
        1,
        loss=0.9,
        val_loss=1.0,
        val_accuracy=0.5,
        epoch_seconds=1.5,
        telemetry=epoch_telemetry(1, samples_per_second=420.0, layers=[layer]).model_dump(mode="json"),
    )
    assessment = health_assessment(overall=0.7)
    api.repo.upsert_trial("s-t1", "s", health={**assessment.model_dump(mode="json"), "epoch": 2, "final": True})
    api.repo.record_alert("s", "s-t1", kind="dead_neurons", severity="critical", message="dead", layer="conv1")
    api.repo.record_layers("s-t1", "s", [spec.model_dump(mode="json") for spec in LAYERS])

    detail = (await api.client.get("/jobs/s/trials/1")).json()
    assert detail["trial"]["trial_id"] == "s-t1"
    assert [e["epoch"] for e in detail["epochs"]] == [1, 2]
    assert detail["epochs"][0]["samples_per_second"] == 420.0
    assert detail["epochs"][0]["layers"][0]["name"] == "conv1"
    assert detail["health"]["overall_health"] == 0.7
    assert set(detail["health"]["components"]) == set(assessment.components.model_dump())
    assert detail["health"]["final"] is True
    assert [(a["kind"], a["layer"]) for a in detail["alerts"]] == [("dead_neurons", "conv1")]
    assert [layer["kind"] for layer in detail["layers"]] == ["Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert detail["layers"][0]["filters"] == 16
    assert detail["layers"][-1]["activation"] == "softmax"


async def test_trial_detail_of_an_unknown_trial_or_job_is_a_404_naming_it(api: Api) -> None:
    seed_study(api.repo, "s", trials=2)
    missing = await api.client.get("/jobs/s/trials/9")
    assert missing.status_code == 404
    assert "no trial number 9" in missing.json()["detail"]
    assert (await api.client.get("/jobs/nope/trials/0")).status_code == 404
    no_layers = (await api.client.get("/jobs/s/trials/0")).json()
    assert no_layers["layers"] == []


async def test_the_new_endpoints_are_in_the_openapi_schema(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert "/jobs/summary" in paths
    assert "/jobs/{job_id}/trials/{number}" in paths
    schema = paths["/jobs/{job_id}/trials/{number}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["$ref"].endswith("/TrialDetail")
