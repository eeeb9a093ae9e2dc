"""The serverless handler for real, through the pinned runpod SDK's own local test server
(``python -m services.trainer.serverless --rp_serve_api``) on CPU: a real Keras trial on the digits sample,
the SDK's ``--test_input`` one-shot mode, and the bridge (``hpo serve runpod-bridge``) in a distributed
study on RabbitMQ whose results folder has the files of the same study run embedded.

The local server shares one process across this module: TensorFlow loads once."""

from __future__ import annotations

import ast
import asyncio
import base64
import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from contracts.enums import DatasetName, Mode
from contracts.events import (
    ReportReady,
    StudyCompleted,
    TrialCompleted,
    TrialEpochCompleted,
    TrialRequestedData,
    TrialStarted,
)
from contracts.serverless import JOB_CHUNK, JobEpoch, JobResult, JobStarted, ServerlessJobInput
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry
from services.cli.main import EXIT_OK, main
from services.runpod.endpoint import LocalTestServer
from tests.integration.cluster import Cluster, Processes, results_layout
from tests.support.http import is_ready
from tests.support.ports import free_port
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
BRIDGE_ID = "runpod-bridge-1"
OPTIONS = {
    "dataset": "digits",
    "mode": "health",
    "trials": "2",
    "max_epochs": "2",
    "max_samples": "300",
    "pruner": "none",
    "seed": "5",
}


def _request(max_epochs: int = 2) -> TrialRequestedData:
    return TrialRequestedData(
        trial_number=0,
        params={"conv_blocks": 1, "filters": 8, "dense_units": 16, "batch_size": 16, "learning_rate": 0.01},
        dataset=DatasetName.DIGITS,
        max_samples=300,
        max_epochs=max_epochs,
        seed=3,
        objective="val_accuracy",
        mode=Mode.HEALTH,
    )


def _worker_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HPO_TRAINER_TRAINER_ID": "serverless-worker",
        "HPO_TRAINER_WORK_DIR": str(tmp / "work"),
    }


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/openapi.json", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SDK's local test server running our handler, on a free port."""
    tmp = tmp_path_factory.mktemp("serverless")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "services.trainer.serverless",
        "--rp_serve_api",
        "--rp_api_port",
        str(port),
        "--rp_api_host",
        "127.0.0.1",
    ]
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=tmp, env=_worker_env(tmp), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(eventually(lambda: _answers(url), "the local test server", timeout=60, interval=0.2))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _chunks(raw: list[dict[str, Any]]) -> tuple[JobStarted, list[JobEpoch], JobResult]:
    parsed = [JOB_CHUNK.validate_python(chunk) for chunk in raw]
    started = [c for c in parsed if isinstance(c, JobStarted)]
    epochs = [c for c in parsed if isinstance(c, JobEpoch)]
    results = [c for c in parsed if isinstance(c, JobResult)]
    assert len(started) == 1 and len(results) == 1 and isinstance(parsed[-1], JobResult)
    return started[0], epochs, results[0]


def _first_literal(text: str) -> Any:
    """The Python literal at the start of ``text`` (what the SDK logs is a dict's repr)."""
    for end in (i + 1 for i, char in enumerate(text) if char == "}"):
        try:
            return ast.literal_eval(text[:end])
        except SyntaxError:
            continue
    raise AssertionError(f"no literal at the start of {text[:200]}")


def _fields(telemetry: EpochTelemetry) -> tuple[set[str], set[str]]:
    dumped = telemetry.model_dump(exclude_none=True)
    layers = set().union(*(set(layer) for layer in dumped.get("layers", [])))
    return set(dumped), layers


def test_the_handler_trains_a_trial_through_the_sdks_local_test_server_like_a_local_trainer(
    local_server: str, tmp_path: Path
) -> None:
    from services.runtime.artifacts.local import LocalArtifactStore
    from services.trainer.dataset_cache import DatasetCache
    from services.trainer.outcome import TrialHooks, TrialJob
    from services.trainer.settings import TrainerSettings
    from services.trainer.training import KerasTrialRunner

    server = LocalTestServer(local_server, timeout_seconds=10, job_seconds=300)
    payload = ServerlessJobInput(study_id="s1", trial_id="t1", request=_request())
    began = time.perf_counter()
    job_id = server.submit(payload.model_dump(mode="json"), execution_timeout_ms=600_000)
    poll = server.poll(job_id)
    remote_seconds = time.perf_counter() - began
    assert poll.status == "COMPLETED"
    started, epochs, result = _chunks(poll.chunks)

    local_epochs: list[EpochTelemetry] = []
    local_started: list[tuple[str, int]] = []
    hooks = TrialHooks(
        started=lambda a, p: local_started.append((a, p)), epoch_completed=local_epochs.append, control=lambda: None
    )
    settings = TrainerSettings(trainer_id="local", work_dir=tmp_path / "work")
    runner = KerasTrialRunner(settings, LocalArtifactStore(tmp_path / "artifacts"), DatasetCache())
    local = runner.run(TrialJob("s1", "t1", _request()), hooks)

    assert result.outcome == "completed" and local.kind.value == "completed"
    assert result.metrics is not None and local.metrics is not None
    assert set(result.metrics.model_dump()) == set(local.metrics.model_dump())
    assert (started.architecture, started.parameter_count) == local_started[0]
    assert [e.telemetry.epoch for e in epochs] == [e.epoch for e in local_epochs] == [1, 2]
    assert [_fields(e.telemetry) for e in epochs] == [_fields(e) for e in local_epochs]
    assert result.epochs_trained == local.epochs_trained and result.model_key == local.model_key
    assert result.model_base64 is not None
    assert base64.b64decode(result.model_base64)[:2] == b"PK"  # a .keras file is a zip
    assert result.worker_id == "serverless-worker" and result.worker_seconds > 0
    print(
        f"\nlocal-server trial: {remote_seconds:.1f} s round trip, worker {result.worker_seconds:.1f} s, "
        f"val_accuracy {result.metrics.val_accuracy:.4f} (local trainer {local.metrics.val_accuracy:.4f}), "
        f"fields {sorted(result.metrics.model_dump())}"
    )


def test_the_sdks_test_input_mode_runs_one_job_and_exits(tmp_path: Path) -> None:
    """The one-shot wiring (a list handler: that mode does not run generators), with the synthetic trainer:
    the Keras trial is the local server's test above. Without the model in the result: the SDK cuts its log
    of the result to 4096 characters, and the result chunk comes last."""
    payload = ServerlessJobInput(study_id="s1", trial_id="t2", request=_request(max_epochs=1), return_model=False)
    job = '{"input": ' + payload.model_dump_json() + "}"
    command = [sys.executable, "-m", "services.trainer.serverless", "--test_input", job]
    done = subprocess.run(command, cwd=tmp_path, env=_worker_env(tmp_path), capture_output=True, text=True, timeout=180)
    logged = done.stdout + done.stderr
    assert done.returncode == 0, logged[-3000:]
    assert "Job local_test completed successfully." in logged
    line = next(x for x in logged.splitlines() if "Job result: " in x or "{'kind': 'result'" in x)
    tail = logged[logged.index(line) :]
    start = tail.index("{'kind': 'result'")
    result = JobResult.model_validate(_first_literal(tail[start:]))
    assert result.outcome == "completed" and result.epochs_trained == 1 and result.model_base64 is None
    assert result.metrics is not None and result.metrics.val_accuracy > 0
    assert result.worker_id == "serverless-worker"


async def test_the_bridge_runs_a_distributed_study_on_the_local_server_with_the_embedded_results_layout(
    local_server: str, cluster: Cluster, processes: Processes, postgres_url: str, tmp_path: Path
) -> None:
    await cluster.start(trainers=0)
    port = free_port()
    processes.start(
        "runpod-bridge",
        "runpod-bridge",
        port,
        HPO_RUNPOD_API_FLAVOR="local-test-server",
        HPO_RUNPOD_ENDPOINT_URL=local_server,
        HPO_RUNPOD_BRIDGE_ID=BRIDGE_ID,
        HPO_RUNPOD_CONCURRENCY="1",
        HPO_RUNPOD_GPU_PRICE_PER_HOUR="0.44",
        HPO_RUNPOD_HEARTBEAT_SECONDS="1",
    )
    await eventually(lambda: is_ready(port), "the bridge to be ready", timeout=60, interval=0.2)
    study_id = await cluster.submit("remote", StudyConfig.model_validate(OPTIONS))
    try:
        await eventually(lambda: cluster.reported(study_id), "the report of the study", timeout=240)
    finally:
        await cluster.stop(tmp_path / "logs")

    ended = next(e for e in cluster.seen if isinstance(e, StudyCompleted))
    assert ended.data.completed_trials == 2
    assert {e.data.trainer_id for e in cluster.seen if isinstance(e, TrialStarted)} == {BRIDGE_ID}
    completed = [e for e in cluster.seen if isinstance(e, TrialCompleted)]
    relayed = {(e.trial_id, e.data.telemetry.epoch) for e in cluster.seen if isinstance(e, TrialEpochCompleted)}
    assert len(relayed) == sum(e.data.metrics.epochs_trained for e in completed) == 4
    from services.runtime.db.schema import epochs

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(epochs)).scalar_one()
    engine.dispose()
    assert stored == len(relayed)  # the read model holds every relayed epoch
    study_dir = tmp_path / "results" / "remote"
    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    assert all(float(r["gpu_seconds"]) > 0 and float(r["cost_usd"]) > 0 for r in rows)
    cost_line = next(x for x in (study_dir / "report.md").read_text().splitlines() if x.startswith("GPU time:"))
    assert any(isinstance(e, ReportReady) for e in cluster.seen)

    embedded_root = tmp_path / "embedded"
    options = [f"{key}={value}" for key, value in OPTIONS.items()]
    code = await asyncio.to_thread(main, ["optimize", *options, f"output_dir={embedded_root}"])
    assert code == EXIT_OK
    (embedded_dir,) = [p for p in embedded_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    remote_files = results_layout(study_dir)
    assert remote_files == results_layout(embedded_dir)
    assert {"report.md", "best_model.keras", "trials.csv"} <= remote_files
    print(
        f"\nbridge study: {len(completed)} trials, {len(relayed)} epochs relayed, {len(remote_files)} files "
        f"same as embedded; {cost_line}"
    )
