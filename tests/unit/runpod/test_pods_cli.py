"""``hpo runpod up|status|down`` against a stand-in for RunPod's GraphQL API (the SDK's ``RUNPOD_API_BASE_URL``):
the queries the pinned SDK sends, what a pod is given (broker and store, never the database), the cost guards,
and one clear line for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.cli.main import EXIT_OK, EXIT_USAGE, main
from services.runtime.db.engine import sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.schema import studies, trials
from tests.support.runpod_api import FakeRunPod, fake_runpod

API_KEY = "rp-test-key-0123456789"
AMQP = "amqp://trainer:s3cret-broker-pass@broker.example.org:5672/"
S3_SECRET = "s3cret-store-key"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunPod]:
    with fake_runpod() as server:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", server.url)
        monkeypatch.setenv("HPO_RUNPOD_API_KEY", API_KEY)
        monkeypatch.setenv("HPO_AMQP_URL", AMQP)
        monkeypatch.setenv("HPO_S3_ENDPOINT", "store.example.org:9000")
        monkeypatch.setenv("HPO_S3_ACCESS_KEY", "trainer")
        monkeypatch.setenv("HPO_S3_SECRET_KEY", S3_SECRET)
        monkeypatch.setenv("HPO_DATABASE_URL", "postgresql+psycopg://hpo:db-pass@db/hpo")
        yield server


def _graphql(fake: FakeRunPod) -> list[str]:
    return [r.body["query"] for r in fake.requests if r.path == "/graphql"]


def test_up_creates_pods_with_the_broker_and_store_only_and_shows_no_secret(
    fake: FakeRunPod, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["runpod", "up", "--gpu-type", "NVIDIA RTX A5000", "--count", "3", "--idle-exit-seconds", "600"])

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert len(fake.pods) == 3 and {p.name for p in fake.pods.values()} == {f"hpo-trainer-{n}" for n in (1, 2, 3)}
    pod = fake.pods["pod1"]
    assert pod.gpu == "NVIDIA RTX A5000" and pod.env["HPO_AMQP_URL"] == AMQP
    assert pod.env["HPO_S3_SECRET_KEY"] == S3_SECRET and pod.env["HPO_TRAINER_IDLE_EXIT_SECONDS"] == "600"
    assert pod.env["HPO_TRAINER_TRAINER_ID"] == "hpo-trainer-1"
    assert not [key for key in pod.env if "DATABASE" in key or "OPTUNA" in key]
    assert all(r.authorization == f"Bearer {API_KEY}" for r in fake.requests)
    queries = _graphql(fake)
    assert 'gpuTypes(input: {id: "NVIDIA RTX A5000"})' in queries[0]
    deploys = [q for q in queries if "podFindAndDeployOnDemand" in q]
    assert len(deploys) == 3 and 'dockerArgs: "serve trainer"' in deploys[0]
    assert 'gpuTypeId: "NVIDIA RTX A5000"' in deploys[0] and "gpuCount: 1" in deploys[0]
    assert "s3cret" not in out and API_KEY not in out and "3 pods, $0.87/h in all" in out


def test_status_lists_gpu_cost_uptime_and_trials_trained_and_down_terminates(
    fake: FakeRunPod, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "read_models.sqlite")
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(studies).values(study_id="s1", name="study", state="running"))
        for n in range(2):
            conn.execute(
                sa.insert(trials).values(trial_id=f"t{n}", study_id="s1", number=n, trainer_id="hpo-trainer-1")
            )
    engine.dispose()
    monkeypatch.setenv("HPO_DATABASE_URL", url)  # the operator's read models: this machine only, never a pod's
    assert main(["runpod", "up", "--gpu-type", "NVIDIA RTX A5000", "--count", "2"]) == EXIT_OK
    fake.pods["pod1"].uptime_seconds = 3_725
    capsys.readouterr()

    assert main(["runpod", "status"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if line.startswith("pod1"))
    assert "NVIDIA RTX A5000" in first and "$0.29/h" in first and "up 1:02:05" in first
    assert "trials trained 2" in first
    assert lines[-1] == "2 pods, $0.58/h in all"

    assert main(["runpod", "down"]) == EXIT_OK
    assert not fake.pods and "2 pods terminated" in capsys.readouterr().out
    assert sum('podTerminate(input: { podId: "pod' in q for q in _graphql(fake)) == 2


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--gpu-type", "NVIDIA RTX A5000"], {"HPO_RUNPOD_API_KEY": ""}, "HPO_RUNPOD_API_KEY is not set"),
        (["--gpu-type", "NVIDIA RTX 9999"], {}, "unknown GPU type 'NVIDIA RTX 9999'"),
        (["--gpu-type", "NVIDIA RTX A5000", "--count", "5"], {}, "over the limit of 4"),
        (
            ["--gpu-type", "NVIDIA GeForce RTX 4090", "--count", "3", "--max-hourly-usd", "2"],
            {},
            "cost $2.07/h, over the hourly budget of $2.00",
        ),
        (["--gpu-type", "NVIDIA RTX A5000"], {"HPO_AMQP_URL": ""}, "HPO_AMQP_URL is not set"),
    ],
)
def test_bad_input_is_one_clear_line_and_creates_nothing(
    fake: FakeRunPod,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    code = main(["runpod", "up", *argv])

    err = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE and not fake.pods
    assert expected in err and _one_error(err)


def _one_error(err: str) -> bool:
    """One error in the house format: ``error: <problem>``, its hints indented on the next lines, no traceback."""
    first, *hints = err.splitlines()
    return first.startswith("error: ") and all(h.startswith("  ") for h in hints) and "Traceback" not in err
