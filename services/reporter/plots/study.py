"""Per-study plots: optimization history, hyperparameter importance, parallel coordinates,
objective vs health, best-trial summary. Each function draws one PNG and returns its path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from contracts.enums import Mode, ParamType
from contracts.health import HEALTH_COMPONENTS
from contracts.search_space import ParamSpec
from services.reporter.plots.style import (
    ACCENT,
    BEST,
    MUTED,
    STATE_COLORS,
    decorate,
    figure,
    inch_margins,
    note,
    save,
    short,
    text_width,
)
from services.reporter.results.importance import FANOVA, Importance
from services.reporter.results.view import StudyView, TrialView

# Study plots are laid out with margins in inches worked out from their labels (``inch_margins``), not
# matplotlib's constrained layout, which measures every label in an extra drawing pass: a third of the five
# plots' drawing time, paid after the last trial. Below: a title, an axis label under its tick labels.
TITLE_SPACE = 0.45
SUPTITLE_AND_TITLE_SPACE = 0.75
X_LABEL_SPACE = 0.55
Y_LABEL_SPACE = 0.8  # a y axis label beside tick labels of up to five characters
COLOUR_BAR_SPACE = 0.85  # right of a colour bar: its tick labels and its label
TICK_PAD = 0.3  # between an axis and its tick labels (ticks and padding)
ROTATION = 30  # degrees, the parallel coordinates' axis names

STUDY_PLOTS: tuple[str, ...] = (
    "optimization_history",
    "param_importance",
    "parallel_coordinates",
    "objective_vs_health",
    "best_trial",
)


def optimization_history(view: StudyView, path: Path, dpi: int) -> Path:
    """Score of every scored trial by number, the best score so far, and unscored trials as ticks."""
    fig = figure(9, 4.5, constrained=False)
    inch_margins(fig, left=Y_LABEL_SPACE, right=0.2, bottom=X_LABEL_SPACE, top=TITLE_SPACE)
    ax = fig.subplots()
    scored = sorted(view.scored, key=lambda t: (t.number, t.record.attempt))
    if not scored:
        note(ax, "no trial has a score yet", title="Optimization history")
    else:
        numbers = [t.number for t in scored]
        scores = [t.score or 0.0 for t in scored]
        ax.scatter(numbers, scores, s=28, color=STATE_COLORS["completed"], label="trial score", zorder=3)
        best_so_far = np.maximum.accumulate(scores)
        ax.step(numbers, best_so_far, where="post", color=BEST, linewidth=1.6, label="best so far")
        if view.best is not None and view.best.score is not None:
            ax.scatter([view.best.number], [view.best.score], s=160, marker="*", color=BEST, zorder=4, label="best")
        for state in ("pruned", "failed"):
            unscored = [t.number for t in view.trials if t.state == state]
            if unscored:
                ax.scatter(
                    unscored,
                    [0.02] * len(unscored),
                    marker="|" if state == "pruned" else "x",
                    s=80,
                    color=STATE_COLORS[state],
                    transform=ax.get_xaxis_transform(),
                    label=f"{state} (no score)",
                    zorder=3,
                )
        decorate(ax, "Optimization history", "trial number", f"score ({view.rule.mode.value} mode)")
        ax.legend(loc="best")
    return save(fig, path, dpi)


def param_importance(importance: Importance, path: Path, dpi: int) -> Path:
    """Importance per hyperparameter (fANOVA, or the fallback named in the title)."""
    values = importance.values
    fig = figure(8, max(3.0, 0.35 * len(values) + 1.6), constrained=False)
    left = text_width(values) + TICK_PAD if values else 0.3
    inch_margins(fig, left=left, right=0.25, bottom=X_LABEL_SPACE, top=SUPTITLE_AND_TITLE_SPACE)
    ax = fig.subplots()
    if not values:
        note(ax, f"Hyperparameter importance not estimated:\n{importance.note}", title="Hyperparameter importance")
    else:
        names = list(values)
        y = np.arange(len(names))
        ax.barh(y, [values[n] for n in names], color=ACCENT if importance.method == FANOVA else MUTED)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        decorate(ax, importance.note, "importance", "")
        ax.title.set_fontsize(8)
        ax.title.set_fontweight("normal")
        fig.suptitle(f"Hyperparameter importance ({importance.method})")
    return save(fig, path, dpi)


def _normalizer(spec: ParamSpec | None, values: list[Any]) -> tuple[list[float], list[tuple[float, str]]]:
    """Each value mapped to [0, 1] plus labelled ticks for the axis."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    categorical = spec.type is ParamType.CATEGORICAL if spec is not None else not numeric
    if categorical or not numeric:
        choices = list(spec.choices or []) if spec is not None and spec.choices else []
        for v in values:
            if v not in choices:
                choices.append(v)
        span = max(len(choices) - 1, 1)
        ticks = [(i / span, short(c, 10)) for i, c in enumerate(choices)]
        return [choices.index(v) / span for v in values], ticks
    log = bool(spec and spec.log) and all(v > 0 for v in values)
    low = float(spec.low) if spec is not None and spec.low is not None else float(min(values))
    high = float(spec.high) if spec is not None and spec.high is not None else float(max(values))
    low, high = min(low, float(min(values))), max(high, float(max(values)))

    def scale(v: float) -> float:
        return math.log10(v) if log else v

    width = scale(high) - scale(low) or 1.0
    return [(scale(float(v)) - scale(low)) / width for v in values], [(0.0, short(low)), (1.0, short(high))]


def parallel_coordinates(view: StudyView, path: Path, dpi: int) -> Path:
    """Every scored trial as a line through its normalized hyperparameters, coloured by score."""
    trials = [t for t in view.scored if t.score is not None]
    names = [n for n in view.param_names if all(n in t.record.params for t in trials)]
    fig = figure(max(8.0, 1.1 * (len(names) + 1) + 1.5), 5, constrained=False)
    _parallel_margins(fig, [*names, "score"])
    ax = fig.subplots()
    if len(trials) < 2 or not names:
        note(ax, "parallel coordinates need at least 2 scored trials", title="Parallel coordinates")
        return save(fig, path, dpi)
    columns, tick_sets = [], []
    for name in names:
        normalized, ticks = _normalizer(view.param_specs.get(name), [t.record.params[name] for t in trials])
        columns.append(normalized)
        tick_sets.append(ticks)
    scores = [t.score or 0.0 for t in trials]
    low, high = min(scores), max(scores)
    columns.append([(s - low) / ((high - low) or 1.0) for s in scores])
    tick_sets.append([(0.0, f"{low:.3f}"), (1.0, f"{high:.3f}")])
    data = np.array(columns).T
    norm = Normalize(low, high if high > low else low + 1e-9)
    cmap = colormaps["viridis"]
    x = np.arange(len(names) + 1)
    ordered = sorted(zip(data, scores, strict=True), key=lambda rs: rs[1])  # the best drawn last, on top
    lines = LineCollection(  # one artist for every trial: 10,000 ``plot`` lines took 7.8 s to draw
        [np.column_stack([x, row]) for row, _ in ordered],
        colors=[cmap(norm(score)) for _, score in ordered],
        alpha=0.8,
        linewidths=1.3,
    )
    ax.add_collection(lines)
    ax.autoscale_view(scaley=False)
    for i, ticks in enumerate(tick_sets):
        ax.axvline(i, color="#444444", linewidth=0.8)
        for pos, label in ticks:
            ax.text(i + 0.04, pos, label, fontsize=7, va="center", ha="left", color="#333333")
    ax.set_xticks(x, [*names, "score"], rotation=30, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.spines["left"].set_visible(False)
    decorate(ax, "Parallel coordinates (parameters normalized to [0, 1])", grid=False)
    axes_width = ax.get_position().width * fig.get_figwidth()  # the bar's share of a wide figure: a bar's width
    fig.colorbar(_mappable(norm), ax=ax, label="score", fraction=0.45 / axes_width, pad=0.2 / axes_width)
    return save(fig, path, dpi)


def _parallel_margins(fig: Figure, axis_names: list[str]) -> None:
    """Room under the axes for the names written at ``ROTATION`` degrees, and left of them for the first name,
    which reaches left of the first axis."""
    slant = math.radians(ROTATION)
    longest = text_width(axis_names)
    first = text_width(axis_names[:1])
    inch_margins(
        fig,
        left=max(0.3, first * math.cos(slant) + 0.1),
        right=COLOUR_BAR_SPACE,
        bottom=longest * math.sin(slant) + TICK_PAD + 0.1,
        top=TITLE_SPACE,
    )


def _mappable(norm: Normalize) -> Any:
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=colormaps["viridis"])


def _objective_and_health(trial: TrialView) -> tuple[float, float] | None:
    objective = trial.breakdown.objective_score if trial.breakdown else trial.record.objective_score
    health = trial.record.overall_health
    return (objective, health) if objective is not None and health is not None else None


MOST_LABELLED_POINTS = 30


def _labelled(points: list[tuple[TrialView, tuple[float, float]]]) -> list[tuple[TrialView, tuple[float, float]]]:
    """Every point of a short study is labelled with its trial number; of a long one the best by score only
    (thousands of labels are unreadable, and laying them out took most of a long study's report)."""
    if len(points) <= MOST_LABELLED_POINTS:
        return points
    return sorted(points, key=lambda p: p[0].score if p[0].score is not None else -math.inf)[-MOST_LABELLED_POINTS:]


def objective_vs_health(view: StudyView, path: Path, dpi: int) -> Path:
    """Objective score against overall health per completed trial; health mode adds iso-score lines."""
    fig = figure(7, 5.5, constrained=False)
    inch_margins(fig, left=Y_LABEL_SPACE, right=COLOUR_BAR_SPACE, bottom=X_LABEL_SPACE, top=TITLE_SPACE)
    ax = fig.subplots()
    points = [(t, xy) for t in view.trials if (xy := _objective_and_health(t)) is not None]
    if not points:
        note(ax, "no completed trial has both an objective score and a health assessment", title="Objective vs health")
        return save(fig, path, dpi)
    xs = [xy[0] for _, xy in points]
    ys = [xy[1] for _, xy in points]
    colors = [t.score if t.score is not None else np.nan for t, _ in points]
    scatter = ax.scatter(xs, ys, c=colors, cmap="viridis", s=40, edgecolors="#333333", linewidths=0.4, zorder=3)
    for trial, (x, y) in _labelled(points):
        ax.annotate(str(trial.number), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    if view.best is not None and (best := _objective_and_health(view.best)) is not None:
        ax.scatter(*best, s=220, facecolors="none", edgecolors=BEST, linewidths=1.8, zorder=4, label="best trial")
        ax.legend(loc="upper left")
    weight = view.rule.health_weight
    if view.rule.mode is Mode.HEALTH and 0 < weight < 1:
        grid = np.linspace(0, 1, 50)
        for level in (0.2, 0.4, 0.6, 0.8):
            iso = (level - (1 - weight) * grid) / weight
            inside = (iso >= 0) & (iso <= 1)
            ax.plot(grid[inside], iso[inside], color=MUTED, linewidth=0.7, linestyle="--")
            if inside.any():
                x_label, y_label = grid[inside][-1], iso[inside][-1]
                ax.text(x_label, y_label, f"score {level} ", fontsize=6, color=MUTED, ha="right", va="bottom")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    fig.colorbar(scatter, ax=ax, label="score")
    decorate(ax, "Objective vs health", f"objective score ({view.rule.objective.value})", "overall health")
    return save(fig, path, dpi)


def best_trial(view: StudyView, path: Path, dpi: int) -> Path:
    """The best trial: health components as bars, parameters and score derivation as text."""
    fig = figure(11, 4.8, constrained=False)
    labels = [name.replace("_", " ") for name in HEALTH_COMPONENTS]
    inch_margins(fig, left=text_width(labels) + TICK_PAD, right=0.2, bottom=X_LABEL_SPACE, top=SUPTITLE_AND_TITLE_SPACE)
    ax_health, ax_text = fig.subplots(1, 2, width_ratios=[1, 1.2])
    best = view.best
    if best is None:
        note(ax_health, "no best trial", title="Best trial")
        ax_text.set_axis_off()
        return save(fig, path, dpi)
    assessment = best.assessment
    if assessment is None:
        note(ax_health, "no health assessment", title="Health components")
    else:
        values = [getattr(assessment.components, name) for name in HEALTH_COMPONENTS]
        y = np.arange(len(values))
        ax_health.barh(y, values, color=[BEST if v < 0.5 else ACCENT for v in values])
        ax_health.set_yticks(y, labels)
        ax_health.invert_yaxis()
        ax_health.axvline(
            assessment.overall_health,
            color="#333333",
            linestyle="--",
            linewidth=1,
            label=f"overall health {assessment.overall_health:.3f}",
        )
        ax_health.legend(loc="lower right")
        ax_health.set_xlim(0, 1)
        decorate(ax_health, "Health components", "component (1 = healthy)", "")
    lines = [f"Trial {best.label}   state: {best.state}"]
    if best.breakdown is not None:
        b = best.breakdown
        lines += [
            f"{b.objective.value} (raw): {b.raw_value:.4g}",
            f"objective score: {b.objective_score:.4f}",
            b.formula(),
        ]
    lines += ["", "parameters:"]
    lines += [f"  {name} = {short(value, 24)}" for name, value in best.record.params.items()]
    ax_text.set_axis_off()
    ax_text.text(0.0, 1.0, "\n".join(lines[:28]), family="monospace", fontsize=8, va="top", transform=ax_text.transAxes)
    fig.suptitle(f"Best trial {best.label}")
    return save(fig, path, dpi)
