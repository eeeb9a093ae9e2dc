"""The study plots lay themselves out with margins worked out from their labels (no constrained layout): every
label, title and colour bar must still lie inside the figure, with the long parameter names a user's search
space may have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import services.reporter.plots.study as study_plots
from contracts.enums import Mode
from services.reporter.plots.style import RC
from services.reporter.results.importance import param_importances
from services.reporter.results.view import load_study_view

LONG_NAMES: dict[str, list[Any]] = {
    "embedding_dimension_of_the_first_layer": [64, 128, 32],
    "recurrent_dropout_between_time_steps": [0.1, 0.3, 0.2],
    "optimizer": ["adam", "rmsprop", "sgd"],
}


def scored_study(script_class: Any) -> Any:
    script = script_class(mode=Mode.HEALTH)
    script.created()
    for number, val_acc in enumerate((0.71, 0.84, 0.78)):
        trial_id = f"t{number}"
        script.requested(trial_id, number, {name: values[number] for name, values in LONG_NAMES.items()})
        script.started(trial_id, number)
        script.epoch(trial_id, number, 1, loss=1.0, acc=val_acc, val_loss=1.1, val_acc=val_acc)
        script.completed(trial_id, number, val_acc=val_acc, model_key=None)
        script.health(trial_id, number, 1, final=True, overall=0.6 + 0.1 * number)
    script.study_completed("t1", 1)
    return script


async def test_every_study_plot_keeps_its_labels_inside_the_figure(
    reporter: Any, study_script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await reporter.publish(scored_study(study_script).events)
    view = load_study_view(reporter.repository, "study-1")
    importance = param_importances(view)
    assert set(importance.values) == set(LONG_NAMES)
    overflow: dict[str, tuple[float, float, float, float]] = {}
    save = study_plots.save

    def save_after_measuring(fig: Figure, path: Path, dpi: int) -> Path:
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        box = fig.get_tightbbox(renderer)
        width, height = fig.get_size_inches()
        tolerance = 0.02  # inches
        if box.x0 < -tolerance or box.y0 < -tolerance or box.x1 > width + tolerance or box.y1 > height + tolerance:
            overflow[path.stem] = (box.x0, box.y0, box.x1 - width, box.y1 - height)
        return save(fig, path, dpi)

    monkeypatch.setattr(study_plots, "save", save_after_measuring)
    with matplotlib.rc_context(RC):
        study_plots.optimization_history(view, tmp_path / "optimization_history.png", 100)
        study_plots.param_importance(importance, tmp_path / "param_importance.png", 100)
        study_plots.parallel_coordinates(view, tmp_path / "parallel_coordinates.png", 100)
        study_plots.objective_vs_health(view, tmp_path / "objective_vs_health.png", 100)
        study_plots.best_trial(view, tmp_path / "best_trial.png", 100)
    assert overflow == {}
    assert sorted(path.name for path in tmp_path.glob("*.png")) == sorted(f"{n}.png" for n in study_plots.STUDY_PLOTS)


async def test_parallel_coordinates_draw_every_scored_trial_as_one_collection_the_best_on_top(
    reporter: Any, study_script: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One artist for all trials (10,000 separate lines took seconds to draw), in score order: the last drawn,
    on top, is the best."""
    await reporter.publish(scored_study(study_script).events)
    view = load_study_view(reporter.repository, "study-1")
    kept: list[Figure] = []
    kept_scores: list[float] = []
    save = study_plots.save

    def keep(fig: Figure, path: Path, dpi: int) -> Path:
        kept.append(fig)
        collections = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
        assert len(collections) == 1
        segments = collections[0].get_segments()
        kept_scores.extend(float(segment[-1][1]) for segment in segments)  # the last axis: the normalized score
        return save(fig, path, dpi)

    monkeypatch.setattr(study_plots, "save", keep)
    with matplotlib.rc_context(RC):
        study_plots.parallel_coordinates(view, tmp_path / "parallel_coordinates.png", 100)
    assert len(kept) == 1
    assert len(kept_scores) == len(view.scored) == 3
    assert kept_scores == sorted(kept_scores) and kept_scores[-1] == 1.0
