"""Trial plots drawn ahead while the study runs: the report copies them, and redraws any trial whose data
changed after they were drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.enums import Mode
from services.reporter import plots as plots_package
from services.reporter.bootstrap import start
from services.reporter.build import BuiltResults, build_results
from services.reporter.plots.ahead import TrialPlotsAhead
from services.reporter.plots.trial import TRIAL_PLOTS
from services.reporter.results.view import load_study_view
from services.reporter.settings import ReporterSettings
from tests.support.waiting import eventually

DPI = 60


def _count_drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Trials the report itself draws (their slugs), whichever way it draws them."""
    drawn: list[str] = []
    real = plots_package._draw_trials

    def counting(trials, plots_dir, dpi, workers):
        drawn.extend(t.slug for t in trials)
        return real(trials, plots_dir, dpi, workers)

    monkeypatch.setattr(plots_package, "_draw_trials", counting)
    return drawn


def _build(reporter, results_root: Path, ahead: TrialPlotsAhead) -> BuiltResults:
    return build_results(
        "study-1",
        repository=reporter.repository,
        artifacts=reporter.artifacts,
        results_root=results_root,
        dpi=DPI,
        workers=1,
        drawn_ahead=ahead.find,
    )


async def test_the_report_copies_plots_drawn_ahead_and_redraws_a_trial_whose_view_changed(
    reporter, three_trials, study_script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = three_trials(Mode.HEALTH).events
    await reporter.publish(events[:-1])  # everything but study.completed
    ahead = TrialPlotsAhead(tmp_path / "ahead", reporter.repository, dpi=DPI, trial_plots=25)
    for trial_id in ("t0", "t1", "t2"):  # t2 failed without epochs: it gets no plots, none are drawn for it
        ahead.trial_final("study-1", trial_id)
    view = load_study_view(reporter.repository, "study-1")
    by_slug = {t.slug: t for t in view.trials}
    await eventually(
        lambda: all(ahead.find(by_slug[slug], DPI) for slug in ("trial_0", "trial_1")), "t0's and t1's plots drawn"
    )
    ahead_files = {slug: ahead.find(trial, DPI) for slug, trial in by_slug.items()}
    assert set(ahead_files["trial_0"] or {}) == set(TRIAL_PLOTS) and ahead_files["trial_1"]
    assert ahead_files["trial_2"] is None

    drawn = _count_drawn(monkeypatch)
    built = _build(reporter, tmp_path / "copied", ahead)
    assert drawn == []  # both plotted trials were copied
    for slug in ("trial_0", "trial_1"):
        for name, source in (ahead_files[slug] or {}).items():
            assert (built.results_dir / "plots" / slug / f"{name}.png").read_bytes() == source.read_bytes()

    # a late alert changes t1's view after its plots were drawn: the report draws t1 again, copies t0
    script = study_script(study_id="study-1", name="demo-study")
    await reporter.publish([script.alert("t1", 1, 1)])
    assert ahead.find(load_study_view(reporter.repository, "study-1").trials[1], DPI) is None
    _build(reporter, tmp_path / "redrawn", ahead)
    assert drawn == ["trial_1"]

    (tmp_path / "ahead" / "kept.txt").write_text("not the reporter's")
    ahead.close()
    assert [p.name for p in (tmp_path / "ahead").iterdir()] == ["kept.txt"]  # only its own folder went


async def test_a_study_run_with_plots_ahead_draws_nothing_in_its_report(
    reporter, three_trials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the reporter service: the final assessments trigger the drawings, study.completed copies them."""
    settings = ReporterSettings(
        results_root=tmp_path / "results-ahead", plot_workers=1, plots_ahead_dir=tmp_path / "pa"
    )
    await reporter.service.stop()
    service = await start(reporter.bus, reporter.repository, reporter.artifacts, settings)
    drawn = _count_drawn(monkeypatch)
    events = three_trials(Mode.HEALTH).events
    try:
        await reporter.publish(events[:-1])
        await eventually_drawn(tmp_path / "pa", expected=2)
        await reporter.publish(events[-1:])
        folder = settings.results_root / "demo-study" / "plots"
        assert {p.parent.name for p in folder.glob("trial_*/*.png")} == {"trial_0", "trial_1"}
        assert drawn == []
    finally:
        await service.stop()
    assert list((tmp_path / "pa").iterdir()) == []  # the service's stop removes what it drew


async def eventually_drawn(root: Path, expected: int) -> None:
    def done() -> bool:
        folders = [p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
        return len(folders) == expected and all(len(list(p.glob("*.png"))) == len(TRIAL_PLOTS) for p in folders)

    await eventually(done, f"{expected} trials' plots drawn ahead", timeout=60)


async def test_only_a_studys_first_trial_plots_trials_are_drawn_ahead(reporter, three_trials, tmp_path: Path) -> None:
    await reporter.publish(three_trials(Mode.HEALTH).events[:-1])
    ahead = TrialPlotsAhead(tmp_path / "ahead", reporter.repository, dpi=DPI, trial_plots=1)
    try:
        assert ahead.trial_final("study-1", "t0") is True
        assert ahead.trial_final("study-1", "t1") is False  # past the first trial_plots: the report draws it
        assert ahead.trial_final("another-study", "x0") is True  # counted per study
        view = load_study_view(reporter.repository, "study-1")
        await eventually(lambda: ahead.find(view.trials[0], DPI) is not None, "t0's plots drawn")
        assert ahead.find(view.trials[1], DPI) is None
    finally:
        ahead.close()
