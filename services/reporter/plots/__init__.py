"""Every plot of a study: ``render_plots`` draws the study plots and each trial's plots (Agg,
no pyplot) under ``plots/`` and returns where each one went, relative to the results folder."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import matplotlib

from contracts.enums import Mode
from services.reporter.plots import study as study_plots
from services.reporter.plots.pareto import pareto_front
from services.reporter.plots.style import RC, drawn_or_note
from services.reporter.plots.trial import TRIAL_PLOTS
from services.reporter.plots.workers import WorkerError, draw_in_workers, draw_jobs
from services.reporter.results.importance import Importance
from services.reporter.results.view import StudyView, TrialView

log = logging.getLogger(__name__)

DrawnAhead = Callable[[TrialView, int], dict[str, Path] | None]
"""(trial view, dpi) -> the files of that trial's plots already drawn from exactly this view, or None."""

PARALLEL_FROM_TRIALS = 8
MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class PlotIndex:
    """Relative (POSIX) paths of the plots: per study by name, per trial by slug then name."""

    study: dict[str, str] = field(default_factory=dict)
    trials: dict[str, dict[str, str]] = field(default_factory=dict)
    unplotted: int = 0
    """Trials with epochs that got no plots of their own (beyond the ``trial_plots`` best)."""


def _workers(requested: int, jobs: int) -> int:
    if requested > 0:
        return max(1, min(requested, jobs))
    if jobs < PARALLEL_FROM_TRIALS:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cpus, MAX_AUTO_WORKERS, jobs // 4))


def _draw_trials(
    trials: list[TrialView], plots_dir: Path, dpi: int, workers: int
) -> Callable[[], list[dict[str, Path]]]:
    """Start drawing the trials' plots; the returned function waits for them. With ``workers`` > 1 they are
    drawn in child processes, which start now, so they draw while this process draws the study plots."""
    jobs = [(t, plots_dir / t.slug, dpi) for t in trials]
    if workers <= 1:
        return lambda: draw_jobs(jobs)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trial-plots")
    drawing = pool.submit(draw_in_workers, jobs, workers)
    pool.shutdown(wait=False)

    def finished() -> list[dict[str, Path]]:
        try:
            return drawing.result()
        except WorkerError as exc:
            log.warning("drawing trial plots in-process instead: %s", exc)
            return draw_jobs(jobs)

    return finished


def _found(drawn_ahead: DrawnAhead | None, trial: TrialView, dpi: int) -> dict[str, Path] | None:
    files = drawn_ahead(trial, dpi) if drawn_ahead is not None else None
    return files if files is not None and set(files) == set(TRIAL_PLOTS) else None


def _copy_drawn(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: Path(shutil.copyfile(path, folder / path.name)) for name, path in files.items()}


def plotted_trials(view: StudyView, at_most: int | None = None) -> list[TrialView]:
    """Trials that get per-trial plots, in trial order: those with at least one recorded epoch, only the
    ``at_most`` best by score (the best trial always, unscored trials last) when there are more."""
    candidates = [t for t in view.trials if t.telemetry]
    if at_most is None or len(candidates) <= at_most:
        return candidates
    ranked = sorted(candidates, key=lambda t: (t is not view.best, t.score is None, -(t.score or 0.0)))
    chosen = {id(t) for t in ranked[:at_most]}
    return [t for t in candidates if id(t) in chosen]


def render_plots(
    view: StudyView,
    importance: Importance,
    results_dir: Path,
    *,
    dpi: int,
    workers: int = 0,
    trial_plots: int | None = None,
    drawn_ahead: DrawnAhead | None = None,
) -> PlotIndex:
    """Draw every plot into ``results_dir/plots``: the study's, and each trial's for the ``trial_plots``
    best trials (None: all). ``workers`` > 1 draws the trials' plots in that many child processes; 0
    picks a count from the CPUs once a study has ``PARALLEL_FROM_TRIALS`` plotted trials. Child processes
    draw the trials' plots while this one draws the study's. ``drawn_ahead`` gives the files of a trial
    whose plots were drawn from this very view already (``plots.ahead``): they are copied, not drawn."""
    plots_dir = results_dir / "plots"
    drawers: dict[str, Callable[[Path], Path]] = {
        "optimization_history": lambda path: study_plots.optimization_history(view, path, dpi),
        "param_importance": lambda path: study_plots.param_importance(importance, path, dpi),
        "parallel_coordinates": lambda path: study_plots.parallel_coordinates(view, path, dpi),
        "objective_vs_health": lambda path: study_plots.objective_vs_health(view, path, dpi),
        "best_trial": lambda path: study_plots.best_trial(view, path, dpi),
    }
    names = list(study_plots.STUDY_PLOTS)
    if view.rule.mode is Mode.PARETO:
        drawers["pareto_front"] = lambda path: pareto_front(view, path, dpi)
        names.insert(0, "pareto_front")
    trials = plotted_trials(view, trial_plots)
    copied = {t.slug: _copy_drawn(files, plots_dir / t.slug) for t in trials if (files := _found(drawn_ahead, t, dpi))}
    to_draw = [t for t in trials if t.slug not in copied]
    trials_drawn = _draw_trials(to_draw, plots_dir, dpi, _workers(workers, len(to_draw)))
    study_files: dict[str, Path] = {}
    with matplotlib.rc_context(RC):
        for name in names:
            path = plots_dir / f"{name}.png"
            study_files[name] = drawn_or_note(partial(drawers[name], path), path, dpi)
    drawn_now = dict(zip((t.slug for t in to_draw), trials_drawn(), strict=True))
    drawn = [copied.get(t.slug) or drawn_now[t.slug] for t in trials]
    unplotted = len(plotted_trials(view)) - len(trials)

    def rel(path: Path) -> str:
        return path.relative_to(results_dir).as_posix()

    return PlotIndex(
        study={name: rel(path) for name, path in study_files.items()},
        trials={
            t.slug: {name: rel(files[name]) for name in TRIAL_PLOTS} for t, files in zip(trials, drawn, strict=True)
        },
        unplotted=unplotted,
    )
