"""Whole studies through every service in one process, as ``hpo optimize`` runs them."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli.main import EXIT_OK, main
from tests.support.http import AUTH, TOKEN
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, *options: str) -> Path:
    out = tmp_path / "results"
    code = main(["optimize", *options, f"output_dir={out}"])
    assert code == EXIT_OK
    studies = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(studies) == 1
    return studies[0]


def test_health_mode_study_on_digits_writes_every_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study_dir = _run(tmp_path, "dataset=digits", "mode=health", "trials=3", "max_epochs=2", "seed=3", "max_samples=400")
    printed = capsys.readouterr().out
    assert "best trial #" in printed and str(study_dir) in printed

    for name in ("report.md", "best_params.yaml", "trials.csv", "best_model.keras"):
        assert (study_dir / name).is_file(), name
    assert list((study_dir / "health").glob("trial_*.json"))
    plots = list(study_dir.rglob("*.png"))
    assert len(plots) >= 5
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in plots)

    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    finished = [r for r in rows if r["state"] in ("completed", "pruned")]
    assert len(finished) == 3
    best_params = yaml.safe_load((study_dir / "best_params.yaml").read_text())
    assert best_params

    report = (study_dir / "report.md").read_text()
    assert "neuron_utilization" in report or "Neuron utilization" in report
    assert "score = (1 - 0.30)" in report
    test = best_params["test"]
    headline = report.split("\n")[2]
    assert headline.startswith(
        f"**Best trial #{best_params['trial_number']}: test accuracy {test['test_accuracy']:.4f}**"
    )
    assert "never used for selection" in headline and "made by the loader" in headline
    assert set(test["accuracy_under_shift"]) == {"gaussian_noise", "shift", "rotation"}
    assert 0.0 <= test["expected_calibration_error"] <= 1.0 and test["test_loss"] > 0
    assert "## Test set (held out)" in report
    completed = [r for r in rows if r["state"] == "completed"]
    assert completed and all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in completed)
    assert "test (held out, never used for selection): test_accuracy=" in printed

    bundle = study_dir.parent / f"{study_dir.name}.zip"
    assert bundle.is_file()
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
    assert any(n.endswith("report.md") for n in names) and any(n.endswith("best_model.keras") for n in names)


def test_pareto_study_reports_its_front_and_exports_another_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study_dir = _run(
        tmp_path, "dataset=digits", "mode=pareto", "trials=3", "max_epochs=1", "seed=5", "max_samples=300",
        "pruner=health",
    )  # fmt: skip
    printed = capsys.readouterr().out
    best_params = yaml.safe_load((study_dir / "best_params.yaml").read_text())
    front = best_params["pareto"]
    assert front["recommended_trial"] == best_params["trial_number"] and front["recommended_trial"] in front["front"]
    assert f"pareto front: {', '.join(f'#{n}' for n in front['front'])}" in printed
    report = (study_dir / "report.md").read_text()
    assert "## Pareto front" in report and f"**Recommended: trial #{front['recommended_trial']}**" in report
    assert "farthest from the line between the two extremes" in report
    assert (study_dir / "plots" / "pareto_front.png").read_bytes()[:8] == PNG_MAGIC

    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    other = next(int(r["number"]) for r in rows if r["state"] == "completed")
    assert main(["export", str(study_dir), "--trial", str(other)]) == EXIT_OK
    exported = yaml.safe_load((study_dir / "exports" / f"trial_{other}" / "params.yaml").read_text())
    assert exported["number"] == other and exported["params"] and exported["test"]["test_accuracy"] is not None
    assert (study_dir / "exports" / f"trial_{other}" / "model.keras").is_file()
    assert main(["export", str(study_dir), "--trial", "99"]) != EXIT_OK
    assert "trial 99 did not complete" in capsys.readouterr().err


def test_simple_mode_text_study_on_a_csv(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    good = ["great fun film", "loved it wonderful", "brilliant acting great story", "wonderful and moving"]
    bad = ["boring awful film", "hated it terrible", "dull plot bad acting", "terrible and slow"]
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(30):
            writer.writerow([good[i % 4], "pos"])
            writer.writerow([bad[i % 4], "neg"])
    study_dir = _run(
        tmp_path,
        "dataset=text_csv",
        f"data_dir={data}",
        "mode=simple",
        "trials=2",
        "max_epochs=2",
        "seed=1",
        "pruner=none",
    )
    rows = list(csv.DictReader((study_dir / "trials.csv").open()))
    assert len([r for r in rows if r["state"] == "completed"]) == 2
    assert "score = (1 -" not in (study_dir / "report.md").read_text()


def test_an_embedded_run_serves_its_study_over_the_rest_api_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import threading
    import time
    import urllib.request

    monkeypatch.setenv("HPO_API_TOKEN", TOKEN)  # else the run makes a token of its own and shows it once
    port = free_port()

    def get(url: str, timeout: float) -> Any:
        return urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=timeout)

    seen: dict[str, object] = {}

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "events" not in seen:
            try:
                with get(f"http://127.0.0.1:{port}/jobs", timeout=2) as response:
                    jobs = json.load(response)["items"]
                if jobs:
                    seen["job"] = jobs[0]
                    url = f"http://127.0.0.1:{port}/jobs/{jobs[0]['job_id']}/events"
                    with get(url, timeout=30) as stream:
                        seen["events"] = [stream.readline().decode() for _ in range(8)]
            except OSError:
                time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    options = ["dataset=digits", "mode=simple", "trials=2", "max_epochs=2", "seed=3", "max_samples=300"]
    code = main(["optimize", *options, f"output_dir={tmp_path / 'results'}", "--api-port", str(port)])
    watcher.join(timeout=10)
    assert code == EXIT_OK
    job = seen.get("job")
    assert isinstance(job, dict) and job["dataset"] == "digits", seen
    lines = seen.get("events")
    assert isinstance(lines, list) and "event: snapshot\n" in lines, seen
