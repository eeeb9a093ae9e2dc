"""A trainer frozen mid-trial (SIGSTOP) with the product's default lease and heartbeat: its trial is failed
within 20 s and retried elsewhere; thawed (SIGCONT), it learns its attempt was superseded, stops without
publishing a result, and every read path still tells the same story.

Read paths compared, by trial number: the job's counts, ``/jobs/{id}/trials`` with every state filter,
``/trends``, ``/best-trial``, the ZIP's ``trials.csv``, and Optuna's storage.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import signal
import time
import zipfile
from pathlib import Path

import httpx
import optuna
import pytest

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import StudyCompleted, TrialCompleted, TrialEpochCompleted, TrialFailed, TrialRequested
from contracts.study import StudyConfig
from tests.integration.cluster import Cluster, Processes
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
DETECTION_GOAL_SECONDS = 20.0
OPTUNA_STATES = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}


async def test_a_frozen_trainers_late_result_rewrites_nothing(
    cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    for product_default in ("HPO_SCHEDULER_LEASE_SECONDS", "HPO_TRAINER_HEARTBEAT_SECONDS"):
        processes.env.pop(product_default)
    token = secrets.token_urlsafe(24)
    api_port, probe_port = free_port(), free_port()
    processes.env |= {"HPO_API_TOKEN": token, "HPO_API_HOST": "127.0.0.1", "HPO_API_PORT": str(api_port)}
    await cluster.start(trainers=2, HPO_TRAINER_SYNTHETIC_SECONDS="8")
    processes.start("api", "api", probe_port)
    await eventually(lambda: is_ready(probe_port), "the API to be ready", timeout=60, interval=0.1)
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=3, max_epochs=8, parallelism=2, seed=3,
        pruner=PrunerName.NONE,
    )  # fmt: skip
    study_id = await cluster.submit("frozen", config)
    frozen = processes.by_name("trainer-1")

    def epochs_of(trainer: str) -> list[TrialEpochCompleted]:
        return [e for e in cluster.seen if isinstance(e, TrialEpochCompleted) and e.data.trainer_id == trainer]

    try:
        await eventually(lambda: bool(epochs_of("trainer-1")), "an epoch on trainer-1", timeout=60)
        held = epochs_of("trainer-1")[0].trial_id
        frozen.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()

        def failed_by_scheduler() -> list[TrialFailed]:
            return [
                e for e in cluster.seen if isinstance(e, TrialFailed) and e.trial_id == held and e.source == "scheduler"
            ]

        await eventually(lambda: bool(failed_by_scheduler()), "the frozen trial to be failed", timeout=60)
        detection = time.monotonic() - frozen_at
        retry = await _retry_of(cluster, held)
        await eventually(lambda: _completed(cluster, retry), "the retry to complete elsewhere", timeout=90)
        frozen.send_signal(signal.SIGCONT)
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=120)
        await asyncio.sleep(6)  # the thawed trainer's late epochs and heartbeats are handled meanwhile
        read_paths = await _read_paths(f"http://127.0.0.1:{api_port}", token, study_id, postgres_url)
    finally:
        frozen.send_signal(signal.SIGCONT)
        await cluster.stop(tmp_path / "logs")

    print(f"frozen trainer detected after {detection:.1f} s")
    assert detection < DETECTION_GOAL_SECONDS
    assert not [e for e in cluster.seen if isinstance(e, TrialCompleted) and e.trial_id == held], (
        "the superseded attempt published no result"
    )
    completed = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert (completed.data.completed_trials, completed.data.failed_trials) == (3, 1)
    reference = read_paths["optuna"]
    assert sorted(reference.values()).count("failed") == 1
    for name, states in read_paths.items():
        assert states == reference, f"{name} disagrees with Optuna: {states} != {reference}"


async def _retry_of(cluster: Cluster, trial_id: str | None) -> str:
    def retries() -> list[TrialRequested]:
        return [e for e in cluster.seen if isinstance(e, TrialRequested) and e.data.retry_of == trial_id]

    await eventually(lambda: bool(retries()), "the retry to be requested", timeout=30)
    retry = retries()[0].trial_id
    assert retry is not None
    return retry


def _completed(cluster: Cluster, trial_id: str) -> bool:
    return any(isinstance(e, TrialCompleted) and e.trial_id == trial_id for e in cluster.seen)


async def _read_paths(url: str, token: str, study_id: str, postgres_url: str) -> dict[str, dict[int, str]]:
    """Trial number -> state, as each read path tells it."""
    paths: dict[str, dict[int, str]] = {}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        job = (await api.get(f"/jobs/{study_id}")).json()
        trials = (await api.get(f"/jobs/{study_id}/trials", params={"limit": 500})).json()["items"]
        paths["trials"] = {t["number"]: t["state"] for t in trials}
        counts = {state: n for state, n in job["counts"].items() if n}
        paths["counts"] = paths["trials"] if _counts(paths["trials"]) == counts else {-1: f"counts {job['counts']}"}
        by_filter: dict[int, str] = {}
        for state in ("requested", "running", "completed", "pruned", "failed"):
            page = (await api.get(f"/jobs/{study_id}/trials", params={"state": state, "limit": 500})).json()
            by_filter |= {t["number"]: state for t in page["items"]}
        paths["trials by state filter"] = by_filter
        trends = (await api.get(f"/jobs/{study_id}/trends")).json()["trials"]
        paths["trends"] = {t["number"]: t["state"] for t in trends}
        best = (await api.get(f"/jobs/{study_id}/best-trial")).json()
        best_ok = paths["trials"].get(best["number"]) == "completed"
        paths["best trial"] = paths["trials"] if best_ok else {-1: f"best trial {best['number']}"}
        bundle = (await api.get(f"/jobs/{study_id}/download")).content
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        (csv_name,) = [n for n in archive.namelist() if n.endswith("trials.csv")]
        rows = csv.DictReader(io.StringIO(archive.read(csv_name).decode()))
        paths["trials.csv"] = {int(r["number"]): r["state"] for r in rows}
    study = optuna.load_study(study_name=study_id, storage=optuna.storages.RDBStorage(postgres_url))
    paths["optuna"] = {t.number: OPTUNA_STATES[t.state.name] for t in study.trials}
    return paths


def _counts(states: dict[int, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    return counts
