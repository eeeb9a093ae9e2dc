"""The results folder, its ZIP and the report.ready announcement."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from contracts.enums import Mode
from contracts.events import ArtifactStored, ReportReady
from contracts.health import HEALTH_COMPONENTS
from services.reporter.build import build_results
from services.reporter.plots import plotted_trials
from services.reporter.plots.study import STUDY_PLOTS
from services.reporter.plots.trial import TRIAL_PLOTS
from services.reporter.plots.workers import draw_in_workers, draw_jobs
from services.reporter.results.files import trials_csv_columns
from services.reporter.results.importance import FANOVA, NONE, param_importances
from services.reporter.results.view import load_study_view, safe_name

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FOLDER = "demo-study"


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _expected_files() -> set[str]:
    files = {"report.md", "report.html", "best_params.yaml", "trials.csv", "best_model.keras"}
    files |= {f"health/trial_{n}.json" for n in range(3)}
    files |= {f"plots/{name}.png" for name in STUDY_PLOTS}
    files |= {f"plots/trial_{n}/{name}.png" for n in (0, 1) for name in TRIAL_PLOTS}  # trial 2 has no epochs
    return files


async def test_study_completed_writes_every_result_file(reporter, three_trials, model_bytes) -> None:
    script = three_trials(Mode.HEALTH)
    await reporter.publish(script.events)

    root = reporter.settings.results_root
    folder = root / FOLDER
    assert _files(folder) == _expected_files()
    assert {p.name for p in root.iterdir()} == {FOLDER, f"{FOLDER}.zip"}
    for png in folder.rglob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC), png
    assert (folder / "best_model.keras").read_bytes() == model_bytes

    report = (folder / "report.md").read_text()
    assert "## Best trial" in report and "Trial **#0**" in report
    assert "raw value: **0.84**" in report
    for name in HEALTH_COMPONENTS:
        assert f"| {name.replace('_', ' ').capitalize()} | " in report
        assert f"{name.replace('_', ' ')} explained in one line" in report
    assert "**warning** overfitting (epoch 3): val loss rising" in report
    assert "## How each trial was scored" in report
    assert "`score = (1 - 0.30) x 0.8400 + 0.30 x 0.8000 = 0.8280`" in report
    assert "| #1 | pruned |" in report and "pruned after epoch 1: below median" in report
    assert "| #2 | failed |" in report and "failed: out of memory while building the model" in report
    assert "Trial #2: out of memory while building the model" in report
    for name in STUDY_PLOTS:
        assert f"(plots/{name}.png)" in report
    assert "(plots/trial_0/learning_curves.png)" in report
    html = (folder / "report.html").read_text()
    assert "<table>" in html and 'src="plots/optimization_history.png"' in html

    with (folder / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0])
    assert columns[:4] == ["number", "attempt", "trial_id", "state"]
    for column in (
        "param_filters",
        "param_learning_rate",
        "val_accuracy",
        "objective_raw",
        "objective_score",
        "overall_health",
        *(f"health_{name}" for name in HEALTH_COMPONENTS),
        "score",
        "duration_seconds",
        "reason",
    ):
        assert column in columns
    assert [(r["number"], r["state"]) for r in rows] == [("0", "completed"), ("1", "pruned"), ("2", "failed")]
    assert float(rows[0]["score"]) == pytest.approx(0.828)
    assert rows[2]["reason"] == "out of memory while building the model"

    best = yaml.safe_load((folder / "best_params.yaml").read_text())
    assert best["trial_number"] == 0 and best["params"]["filters"] == 32
    assert best["score"] == pytest.approx(0.828)

    health = json.loads((folder / "health/trial_0.json").read_text())
    assert health["assessment"]["overall_health"] == pytest.approx(0.8)
    assert health["assessment_final"] is True
    assert health["alerts"][0]["kind"] == "overfitting"
    assert [e["epoch"] for e in health["epochs"]] == [1, 2, 3]
    assert health["overfitting_epochs"] == [3]
    assert health["score"]["formula"].startswith("score = (1 - 0.30)")

    zip_path = root / f"{FOLDER}.zip"
    with zipfile.ZipFile(zip_path) as bundle:
        assert {n for n in bundle.namelist()} == {f"{FOLDER}/{f}" for f in _expected_files()}
    assert reporter.artifacts.get_bytes("studies/study-1/results.zip") == zip_path.read_bytes()

    ready = [e for e in reporter.published if isinstance(e, ReportReady)]
    assert len(ready) == 1
    assert ready[0].data.results_dir == str(folder)
    assert ready[0].data.bundle_key == "studies/study-1/results.zip"
    assert ready[0].data.bundle_path == str(zip_path)
    assert ready[0].data.best_trial_number == 0
    stored = [e for e in reporter.published if isinstance(e, ArtifactStored) and e.data.kind == "report_bundle"]
    assert len(stored) == 1 and stored[0].data.size_bytes == zip_path.stat().st_size
    bundle_row = reporter.repository.get_artifact("studies/study-1/results.zip")
    assert bundle_row is not None and bundle_row.kind == "report_bundle"


async def test_simple_mode_report_and_a_rebuild_replaces_the_folder(reporter, three_trials) -> None:
    script = three_trials(Mode.SIMPLE)
    await reporter.publish(script.events)
    root = reporter.settings.results_root
    report = (root / FOLDER / "report.md").read_text()
    assert "## Trial scores" in report
    assert "`score = objective_score(val_accuracy) = 0.8400`" in report

    (root / FOLDER / "stray.txt").write_text("left from an older build")
    built = build_results(
        "study-1",
        repository=reporter.repository,
        artifacts=reporter.artifacts,
        results_root=root,
        workers=1,
    )
    assert built.results_dir == root / FOLDER
    assert not (root / FOLDER / "stray.txt").exists()
    assert {p.name for p in root.iterdir()} == {FOLDER, f"{FOLDER}.zip"}  # no temporary folders left


async def test_missing_model_artifact_is_reported_not_fatal(reporter, three_trials) -> None:
    reporter.artifacts.delete("studies/study-1/trials/t0/model.keras")
    await reporter.publish(three_trials(Mode.HEALTH).events)
    folder = reporter.settings.results_root / FOLDER
    assert not (folder / "best_model.keras").exists()
    assert "missing from the artifact store" in (folder / "report.md").read_text()
    assert await reporter.bus.dead_letters("reporter") == []


async def test_redelivered_study_completed_publishes_nothing_new(reporter, three_trials) -> None:
    from services.reporter.projections import ReporterDeps, handlers

    script = three_trials(Mode.HEALTH)
    await reporter.publish(script.events)
    published = len(reporter.published)
    deps = ReporterDeps(reporter.bus.publish, reporter.repository, reporter.artifacts, reporter.settings)
    await handlers.dispatch(script.events[-1], deps)
    await reporter.bus.wait_idle()
    assert len(reporter.published) == published


async def test_importance_uses_fanova_from_three_scored_trials(reporter, study_script) -> None:
    s = study_script(mode=Mode.SIMPLE)
    s.created()
    for n in range(6):
        trial_id = f"t{n}"
        s.requested(
            trial_id, n, {"filters": [16, 32, 64][n % 3], "learning_rate": 0.001 * (n + 1), "activation": "relu"}
        )
        s.completed(trial_id, n, val_acc=0.5 + 0.05 * n, model_key=None)
    await reporter.publish(s.events)
    view = load_study_view(reporter.repository, "study-1")
    importance = param_importances(view)
    assert importance.method == FANOVA
    assert set(importance.values) == {"filters", "learning_rate"}  # activation never varies
    assert sum(importance.values.values()) == pytest.approx(1.0)

    few = param_importances(
        type(view)(view.study, view.config, view.rule, view.trials[:2], view.best, view.param_specs)
    )
    assert few.method == NONE and "at least 3" in few.note


async def test_child_process_plot_workers_match_in_process_drawing(reporter, three_trials, tmp_path) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events)
    view = load_study_view(reporter.repository, "study-1")
    trials = plotted_trials(view)
    jobs = [(t, tmp_path / "workers" / t.slug, 60) for t in trials]
    drawn = draw_in_workers(jobs, 2)
    assert [sorted(files) for files in drawn] == [sorted(TRIAL_PLOTS)] * len(trials)
    for files, trial in zip(drawn, trials, strict=True):
        assert files["learning_curves"] == tmp_path / "workers" / trial.slug / "learning_curves.png"
        assert files["learning_curves"].read_bytes().startswith(PNG_MAGIC)
    local = draw_jobs([(trials[0], tmp_path / "local", 60)])
    assert local[0]["architecture"].read_bytes().startswith(PNG_MAGIC)


def test_study_names_become_safe_folder_names() -> None:
    assert safe_name("demo study") == "demo_study"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("   ") == "study"
    assert safe_name("mnist-health_2025.01") == "mnist-health_2025.01"


async def test_csv_columns_follow_the_search_space(reporter, three_trials) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events)
    view = load_study_view(reporter.repository, "study-1")
    params = [c for c in trials_csv_columns(view) if c.startswith("param_")]
    assert params == ["param_filters", "param_activation", "param_learning_rate"]


async def test_a_failing_plot_becomes_a_note_not_a_lost_report(reporter, three_trials, monkeypatch) -> None:
    from services.reporter.plots import study as study_plots

    def broken(*args: object) -> Path:
        raise ValueError("odd telemetry")

    monkeypatch.setattr(study_plots, "parallel_coordinates", broken)
    await reporter.publish(three_trials(Mode.HEALTH).events)
    png = reporter.settings.results_root / FOLDER / "plots" / "parallel_coordinates.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert [e for e in reporter.published if isinstance(e, ReportReady)]
