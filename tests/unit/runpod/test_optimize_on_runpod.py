"""``hpo optimize ... trainer=runpod endpoint=ID``: the embedded scheduler, health and reporter here, each trial a
job on the endpoint (a stand-in for RunPod's serverless API), results in the output folder as for a local run,
with GPU seconds and cost per trial; a study whose trials cannot fit the execution timeout is refused first."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.main import EXIT_OK, EXIT_USAGE, main
from tests.support.runpod_api import FakeRunPod, fake_runpod

API_KEY = "rp-test-key-0123456789"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRunPod]:
    with fake_runpod() as server:
        monkeypatch.setenv("HPO_RUNPOD_API_KEY", API_KEY)
        monkeypatch.setenv("HPO_RUNPOD_ENDPOINT_URL", f"{server.url}/v2")
        monkeypatch.setenv("HPO_RUNPOD_POLL_SECONDS", "0.05")
        monkeypatch.setenv("HPO_RUNPOD_GPU_PRICE_PER_HOUR", "0.44")
        yield server


def test_each_trial_runs_on_the_endpoint_and_the_results_carry_gpu_seconds_and_cost(
    fake: FakeRunPod, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["dataset=digits", "mode=simple", "trials=2", "max_epochs=2", "pruner=none", "seed=1"]
    code = main(["optimize", *options, "trainer=runpod", "endpoint=ep123", f"output_dir={tmp_path}", "study_name=rp"])

    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "trainer: RunPod endpoint ep123" in out and API_KEY not in out
    assert [r.path for r in fake.requests if r.path.endswith("/run")] == ["/v2/ep123/run"] * 2
    rows = list(csv.DictReader((tmp_path / "rp" / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["completed", "completed"]
    assert {float(r["gpu_seconds"]) for r in rows} == {7.2}
    assert {round(float(r["cost_usd"]), 6) for r in rows} == {round(7.2 / 3600 * 0.44, 6)}
    report = (tmp_path / "rp" / "report.md").read_text()
    assert "GPU time: 14.4 s over 2 trials, cost $0.0018 ($0.0009 per trial)." in report
    assert (tmp_path / "rp.zip").is_file()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["max_epochs=100", "trainer=runpod", "endpoint=ep123"], "trainer=runpod: max_epochs=100 cannot fit"),
        (["trainer=runpod"], "trainer=runpod needs the serverless endpoint: add endpoint=ENDPOINT_ID"),
        (["trainer=gpu"], "trainer=gpu: use trainer=local or trainer=runpod"),
    ],
)
def test_a_study_that_cannot_run_on_the_endpoint_is_refused_in_one_line_before_it_starts(
    fake: FakeRunPod, tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    code = main(["optimize", "dataset=digits", *options, f"output_dir={tmp_path}"])

    err = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE and expected in err and _one_error(err)
    assert not fake.requests


def test_without_an_api_key_the_study_is_refused_naming_the_variable(
    fake: FakeRunPod, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPO_RUNPOD_API_KEY", "")
    code = main(["optimize", "dataset=digits", "trainer=runpod", "endpoint=ep123", f"output_dir={tmp_path}"])

    err = capsys.readouterr().err.strip()
    assert code == EXIT_USAGE and "HPO_RUNPOD_API_KEY is empty" in err and _one_error(err)


def _one_error(err: str) -> bool:
    """One error in the house format: ``error: <problem>``, its hints indented on the next lines, no traceback."""
    first, *hints = err.splitlines()
    return first.startswith("error: ") and all(h.startswith("  ") for h in hints) and "Traceback" not in err
