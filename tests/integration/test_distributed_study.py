"""Whole studies with every service as its own process on RabbitMQ and Postgres: synthetic trainers
under crashes and restarts, and three Keras trainers on the MNIST sample whose results folder has
exactly the files of the same study run embedded."""

from __future__ import annotations

import asyncio
import csv
import subprocess
from pathlib import Path

import optuna
import pytest

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import (
    ReportReady,
    StudyCompleted,
    TrialCompleted,
    TrialEpochCompleted,
    TrialFailed,
    TrialRequested,
    TrialStarted,
)
from contracts.study import StudyConfig
from services.cli.main import EXIT_OK, main
from tests.conftest import SHARED_DATASETS
from tests.integration.cluster import Cluster, Processes, results_layout
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.s3 import S3Server
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _assert_finished(postgres_url: str, study_id: str, trials: int, results: Path, name: str) -> None:
    study_dir = results / name
    for file in ("report.md", "report.html", "best_params.yaml", "trials.csv"):
        assert (study_dir / file).is_file(), file
    assert (results / f"{name}.zip").is_file()
    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    assert len([r for r in rows if r["state"] in ("completed", "pruned")]) == trials
    study = optuna.load_study(study_name=study_id, storage=optuna.storages.RDBStorage(postgres_url))
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert (
        len([t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)])
        == trials
    )


async def test_a_study_runs_across_separate_service_processes(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    processes.env |= {
        "HPO_S3_ENDPOINT": s3_server.endpoint,
        "HPO_S3_ACCESS_KEY": s3_server.access_key,
        "HPO_S3_SECRET_KEY": s3_server.secret_key,
        "HPO_S3_BUCKET": s3_bucket,
    }
    await cluster.start(trainers=2)
    config = StudyConfig(dataset=DatasetName.DIGITS, mode=Mode.HEALTH, trials=6, max_epochs=3, parallelism=2, seed=3)
    study_id = await cluster.submit("dist", config)
    try:
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=120)
    finally:
        await cluster.stop(tmp_path / "logs")

    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials + completed.data.pruned_trials == 6
    assert {e.data.trainer_id for e in cluster.seen if isinstance(e, TrialStarted)} == {"trainer-1", "trainer-2"}
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "dist")
    report = next(e for e in cluster.seen if isinstance(e, ReportReady))
    bundle = s3_server.client().stat_object(s3_bucket, report.data.bundle_key)
    assert bundle.size == (tmp_path / "results" / "dist.zip").stat().st_size  # the bundle went to S3


async def test_a_trainer_killed_mid_trial_has_its_trial_finished_by_another(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="4")
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        mode=Mode.SIMPLE,
        trials=4,
        max_epochs=4,
        parallelism=2,
        seed=5,
        pruner=PrunerName.NONE,
    )
    study_id = await cluster.submit("killed", config)

    def epoch_on_trainer_1() -> bool:
        return any(isinstance(e, TrialEpochCompleted) and e.data.trainer_id == "trainer-1" for e in cluster.seen)

    try:
        await eventually(epoch_on_trainer_1, "an epoch trained on trainer-1", timeout=60)
        victim = processes.by_name("trainer-1")
        victim.kill()  # SIGKILL in the middle of a trial: no goodbye, its message is unacked
        victim.wait(timeout=10)
        interrupted = next(
            e.trial_id for e in cluster.seen if isinstance(e, TrialEpochCompleted) and e.data.trainer_id == "trainer-1"
        )
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=150)
    finally:
        processes.forget("trainer-1")
        await cluster.stop(tmp_path / "logs")

    finished_by = [
        e.data.trainer_id for e in cluster.seen if isinstance(e, TrialCompleted) and e.trial_id == interrupted
    ]
    retried = [e for e in cluster.seen if isinstance(e, TrialRequested) and e.data.retry_of == interrupted]
    assert finished_by == ["trainer-2"] or retried, "the interrupted trial was neither redelivered nor retried"
    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials == 4
    _assert_finished(postgres_url, study_id, 4, tmp_path / "results", "killed")


async def test_a_trainer_sent_sigterm_mid_trial_hands_it_back_within_an_epoch_and_another_runs_it(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="6")  # 3 epochs of 2 s
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=2, max_epochs=3, parallelism=2, seed=3,
        pruner=PrunerName.NONE,
    )  # fmt: skip
    study_id = await cluster.submit("handed-back", config)

    def first_epoch_on_trainer_1() -> TrialEpochCompleted | None:
        return next(
            (e for e in cluster.seen if isinstance(e, TrialEpochCompleted) and e.data.trainer_id == "trainer-1"), None
        )

    try:
        await eventually(lambda: first_epoch_on_trainer_1() is not None, "an epoch on trainer-1", timeout=60)
        interrupted = first_epoch_on_trainer_1()
        assert interrupted is not None
        victim = processes.by_name("trainer-1")
        victim.terminate()  # SIGTERM, as Kubernetes sends it before terminationGracePeriodSeconds runs out
        assert victim.wait(timeout=30) == 0
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=120)
    finally:
        processes.forget("trainer-1")
        await cluster.stop(tmp_path / "logs")

    trial_id = interrupted.trial_id
    epochs_there = [
        e.data.telemetry.epoch
        for e in cluster.seen
        if isinstance(e, TrialEpochCompleted) and e.trial_id == trial_id and e.data.trainer_id == "trainer-1"
    ]
    assert max(epochs_there) <= interrupted.data.telemetry.epoch + 1 < config.max_epochs  # stopped within an epoch
    handed = [e for e in cluster.seen if isinstance(e, TrialFailed) and e.trial_id == trial_id]
    assert [(e.data.trainer_id, e.data.handed_back) for e in handed] == [("trainer-1", True)]
    assert not [e for e in cluster.seen if isinstance(e, TrialCompleted) and e.trial_id == trial_id]
    retry = next(e for e in cluster.seen if isinstance(e, TrialRequested) and e.data.retry_of == trial_id)
    original = next(e for e in cluster.seen if isinstance(e, TrialRequested) and e.trial_id == trial_id)
    assert retry.data.params == original.data.params and retry.data.attempt == original.data.attempt + 1
    finished_by = [
        e.data.trainer_id for e in cluster.seen if isinstance(e, TrialCompleted) and e.trial_id == retry.trial_id
    ]
    assert finished_by == ["trainer-2"]
    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials == 2
    _assert_finished(postgres_url, study_id, 2, tmp_path / "results", "handed-back")


async def test_a_broker_restart_mid_study_loses_no_epoch(cluster: Cluster, postgres_url: str, tmp_path: Path) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="3")
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        mode=Mode.SIMPLE,
        trials=4,
        max_epochs=3,
        parallelism=2,
        seed=9,
        pruner=PrunerName.NONE,
    )
    study_id = await cluster.submit("restart", config)
    try:
        await eventually(
            lambda: any(isinstance(e, TrialEpochCompleted) for e in cluster.seen), "a first epoch", timeout=60
        )
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
        await asyncio.sleep(2)
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=60)
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=180)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=60)
        await cluster.stop(tmp_path / "logs")

    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert completed.data.completed_trials == 4
    epochs_trained = sum(e.data.metrics.epochs_trained for e in cluster.seen if isinstance(e, TrialCompleted))
    epochs_recorded = {(e.trial_id, e.data.telemetry.epoch) for e in cluster.seen if isinstance(e, TrialEpochCompleted)}
    assert len(epochs_recorded) == epochs_trained == 12
    import sqlalchemy as sa

    from services.runtime.db.schema import epochs

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(epochs)).scalar_one()
    engine.dispose()
    assert stored == epochs_trained  # the reporter's read model holds every epoch trained
    _assert_finished(postgres_url, study_id, 4, tmp_path / "results", "restart")


async def test_a_scheduler_killed_mid_study_resumes_it_from_storage(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="2")
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        mode=Mode.HEALTH,
        trials=6,
        max_epochs=3,
        parallelism=2,
        seed=4,
        pruner=PrunerName.NONE,
    )
    study_id = await cluster.submit("resumed", config)

    def trials_completed() -> int:
        return sum(isinstance(e, TrialCompleted) for e in cluster.seen)

    try:
        await eventually(lambda: trials_completed() >= 2, "two completed trials", timeout=60)
        scheduler = processes.by_name("scheduler")
        scheduler.kill()  # SIGKILL: its in-memory state is gone
        scheduler.wait(timeout=10)
        processes.forget("scheduler")
        port = free_port()
        processes.start("scheduler", "scheduler", port)
        await eventually(lambda: is_ready(port), "the new scheduler to be ready", timeout=60, interval=0.1)
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=150)
    finally:
        await cluster.stop(tmp_path / "logs")

    ended = [e for e in cluster.seen if isinstance(e, StudyCompleted) and e.study_id == study_id]
    assert len(ended) == 1 and ended[0].data.state == "completed"
    assert ended[0].data.completed_trials == 6
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "resumed")


def _restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


async def test_a_postgres_restart_mid_study_needs_no_operator(
    cluster: Cluster, postgres_url: str, tmp_path: Path
) -> None:
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("restarting Postgres needs a Debian cluster (pg_ctlcluster) on this machine")
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="2")
    config = StudyConfig(
        dataset=DatasetName.DIGITS,
        mode=Mode.HEALTH,
        trials=6,
        max_epochs=3,
        parallelism=2,
        seed=6,
        pruner=PrunerName.NONE,
    )
    study_id = await cluster.submit("pg-restart", config)
    try:
        await eventually(
            lambda: any(isinstance(e, TrialCompleted) for e in cluster.seen), "a first completed trial", timeout=60
        )
        await asyncio.to_thread(_restart_postgres)
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=180)
    finally:
        await cluster.stop(tmp_path / "logs")

    ended = next(e for e in cluster.seen if isinstance(e, StudyCompleted) and e.study_id == study_id)
    assert ended.data.completed_trials == 6
    _assert_finished(postgres_url, study_id, 6, tmp_path / "results", "pg-restart")


@pytest.mark.slow
async def test_a_keras_study_on_mnist_across_three_trainers_writes_the_embeddedresults_layout(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    options = {
        "dataset": "mnist", "data_dir": str(SHARED_DATASETS), "mode": "health", "trials": "3", "max_epochs": "2",
        "max_samples": "600", "pruner": "none", "seed": "5",
    }  # fmt: skip
    processes.env["HPO_TRAINER_MODE"] = "keras"
    processes.env["HPO_TRAINER_DATA_DIR"] = str(SHARED_DATASETS)  # trials name data only inside it
    await cluster.start(trainers=3)
    in_data_folder = {key: value for key, value in options.items() if key != "data_dir"}
    study_id = await cluster.submit("mnist3", StudyConfig.model_validate({**in_data_folder, "parallelism": 3}))
    try:
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=420)
    finally:
        await cluster.stop(tmp_path / "logs")
    _assert_finished(postgres_url, study_id, 3, tmp_path / "results", "mnist3")
    assert len({e.data.trainer_id for e in cluster.seen if isinstance(e, TrialStarted)}) >= 2

    embedded_root = tmp_path / "embedded"
    code = await asyncio.to_thread(
        main, ["optimize", *(f"{key}={value}" for key, value in options.items()), f"output_dir={embedded_root}"]
    )
    assert code == EXIT_OK
    (embedded_dir,) = [p for p in embedded_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    distributed = results_layout(tmp_path / "results" / "mnist3")
    assert distributed == results_layout(embedded_dir)
    assert {"report.md", "report.html", "best_model.keras", "trials.csv", "best_params.yaml"} <= distributed
