"""A long study's report stays bounded: per-trial plots for its best trials only, fANOVA on a sample,
and the report says both."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.enums import Mode
from services.reporter.build import build_results
from services.reporter.plots import plotted_trials
from services.reporter.results import importance
from services.reporter.results.importance import FANOVA, param_importances
from services.reporter.results.view import load_study_view

FOLDER = "demo-study"


async def test_only_the_best_trials_get_plots_and_the_report_says_why(reporter, three_trials) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events)
    root = reporter.settings.results_root
    built = build_results(
        "study-1", repository=reporter.repository, artifacts=reporter.artifacts, results_root=root, trial_plots=1
    )
    plots = built.results_dir / "plots"
    assert (plots / "trial_0" / "learning_curves.png").exists()
    assert not (plots / "trial_1").exists()  # pruned after an epoch: it has telemetry but is not the best
    report = (built.results_dir / "report.md").read_text()
    assert "Plots are drawn for the 1 best trials by score; the other 1 trials" in report
    assert "no plots (not among the best) · [health data](health/trial_1.json)" in report
    assert (built.results_dir / "health" / "trial_1.json").exists()


async def test_the_best_trial_is_always_plotted_and_the_order_is_kept(reporter, three_trials) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events)
    view = load_study_view(reporter.repository, "study-1")
    assert [t.slug for t in plotted_trials(view)] == ["trial_0", "trial_1"]
    assert [t.slug for t in plotted_trials(view, 1)] == ["trial_0"]
    assert [t.slug for t in plotted_trials(view, 0)] == []
    assert [t.slug for t in plotted_trials(view, 5)] == ["trial_0", "trial_1"]


async def test_fanova_runs_on_a_fixed_sample_of_a_long_study(reporter, three_trials, monkeypatch) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events)
    view = load_study_view(reporter.repository, "study-1")
    best = view.scored[0]
    copies = [
        replace(best, record=replace(best.record, trial_id=f"c{n}", number=10 + n, params=_params(best, n)))
        for n in range(12)
    ]
    long_view = replace(view, trials=copies)
    monkeypatch.setattr(importance, "MAX_FANOVA_TRIALS", 8)
    first, again = param_importances(long_view), param_importances(long_view)
    assert first.method == FANOVA
    assert first.note == "fANOVA over a random sample of 8 of the 12 scored trials"
    assert first.values == pytest.approx(again.values)  # the sample is seeded: a rebuild says the same


def _params(trial, n: int) -> dict[str, object]:
    params = dict(trial.record.params)
    params["learning_rate"] = 10 ** (-4 + n / 4)
    return params
