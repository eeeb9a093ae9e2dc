"""Per-trial plots: learning curves, gradient flow, weight and bias distributions, dead and
saturated units, architecture summary. Each function draws one PNG and returns its path."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from contracts.telemetry import Histogram
from services.reporter.plots.style import OVERFIT, TRAIN, VAL, decorate, drawn_or_note, figure, margins, note, save
from services.reporter.results.view import TrialView

TRIAL_PLOTS: tuple[str, ...] = (
    "learning_curves",
    "gradient_flow",
    "weight_distributions",
    "unit_fractions",
    "architecture",
)


def _series(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _layer_colors(count: int) -> list[tuple[float, float, float, float]]:
    cmap = colormaps["tab20" if count > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(count)]


def _legend(ax: Axes, entries: int) -> None:
    if entries > 8:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, ncols=1 if entries < 20 else 2)
    elif entries:
        ax.legend(loc="best")


def learning_curves(trial: TrialView, path: Path, dpi: int) -> Path:
    """Loss and accuracy per epoch, train vs validation, overfitting epochs shaded."""
    fig = figure(10, 4, constrained=False)
    ax_loss, ax_acc = fig.subplots(1, 2)
    margins(fig, left=0.07, wspace=0.22)
    epochs = [t.epoch for t in trial.telemetry]
    if not epochs:
        note(ax_loss, "no epochs recorded", title="Loss")
        note(ax_acc, "no epochs recorded", title="Accuracy")
    else:
        marker = "o" if len(epochs) <= 30 else None
        panels = ((ax_loss, "loss", "val_loss", "Loss"), (ax_acc, "accuracy", "val_accuracy", "Accuracy"))
        for ax, train_key, val_key, name in panels:
            for key, label, color in ((train_key, "train", TRAIN), (val_key, "validation", VAL)):
                values = _series([getattr(t, key) for t in trial.telemetry])
                ax.plot(epochs, values, marker=marker, markersize=3, color=color, label=label)
            for i, epoch in enumerate(trial.overfitting_epochs):
                ax.axvspan(epoch - 0.5, epoch + 0.5, color=OVERFIT, alpha=0.12, label="overfitting" if i == 0 else None)
            decorate(ax, name, "epoch", name.lower())
            ax.set_xlim(min(epochs) - 0.6, max(epochs) + 0.6)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="best")
    fig.suptitle(f"Trial {trial.label}: learning curves ({trial.state})")
    return save(fig, path, dpi)


def gradient_flow(trial: TrialView, path: Path, dpi: int) -> Path:
    """Per-layer gradient norm over epochs, log scale."""
    fig = figure(9, 4.5, constrained=False)
    ax = fig.subplots()
    names: list[str] = []
    for epoch in trial.telemetry:
        names += [layer.name for layer in epoch.layers if layer.gradient_norm is not None and layer.name not in names]
    if not names:
        note(ax, "no gradient norms in the telemetry", title="Gradient flow")
    else:
        epochs = [t.epoch for t in trial.telemetry]
        for name, color in zip(names, _layer_colors(len(names)), strict=True):
            norms = []
            for epoch in trial.telemetry:
                value = next((layer.gradient_norm for layer in epoch.layers if layer.name == name), None)
                norms.append(value if value is not None and value > 0 else None)
            ax.plot(epochs, _series(norms), marker="o", markersize=3, color=color, label=name)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        decorate(ax, "Gradient norm per layer", "epoch", "L2 norm of the gradient (log)")
        _legend(ax, len(names))
    margins(fig, left=0.09, right=0.98 if len(names) <= 8 else (0.78 if len(names) < 20 else 0.62))
    fig.suptitle(f"Trial {trial.label}: gradient flow")
    return save(fig, path, dpi)


def _density(hist: Histogram) -> tuple[np.ndarray, np.ndarray] | None:
    edges = np.asarray(hist.edges, dtype=float)
    counts = np.asarray(hist.counts, dtype=float)
    if len(edges) != len(counts) + 1 or counts.sum() <= 0:
        return None
    widths = np.diff(edges)
    widths[widths <= 0] = 1.0
    return counts / (counts.sum() * widths), edges


def weight_distributions(trial: TrialView, path: Path, dpi: int) -> Path:
    """Weight and bias histograms of every layer at the last epoch."""
    fig = figure(11, 4.5, constrained=False)
    ax_w, ax_b = fig.subplots(1, 2)
    last = trial.last
    layers = last.layers if last else []
    colors = _layer_colors(max(len(layers), 1))
    drawn: dict[str, int] = {}
    for ax, attr, name in ((ax_w, "weight_histogram", "Weights"), (ax_b, "bias_histogram", "Biases")):
        drawn[name] = 0
        for layer, color in zip(layers, colors, strict=False):
            hist = getattr(layer, attr)
            shape = _density(hist) if hist is not None else None
            if shape is not None:
                ax.stairs(shape[0], shape[1], color=color, label=layer.name, linewidth=1.2)
                drawn[name] += 1
        if drawn[name]:
            decorate(ax, f"{name} (epoch {last.epoch if last else '?'})", "value", "density")
        else:
            note(ax, f"no {name.lower()} histograms in the telemetry", title=name)
    many = max(drawn.values()) > 8
    margins(fig, left=0.06, wspace=0.2, right=0.84 if many else 0.98)
    if many:
        widest = ax_w if drawn["Weights"] >= drawn["Biases"] else ax_b
        handles, labels = widest.get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.85, 0.84), fontsize=7)
    else:
        for ax, name in ((ax_w, "Weights"), (ax_b, "Biases")):
            if drawn[name]:
                ax.legend(loc="best")
    fig.suptitle(f"Trial {trial.label}: weight and bias distributions")
    return save(fig, path, dpi)


def unit_fractions(trial: TrialView, path: Path, dpi: int) -> Path:
    """Share of dead and saturated units per layer at the last epoch."""
    last = trial.last
    layers = [
        layer
        for layer in (last.layers if last else [])
        if layer.dead_fraction is not None or layer.saturated_fraction is not None
    ]
    fig = figure(9, max(3.0, 0.35 * len(layers) + 1.5))
    ax = fig.subplots()
    if not layers or last is None:
        note(ax, "no activation statistics in the telemetry", title="Dead and saturated units")
    else:
        y = np.arange(len(layers))
        dead = [layer.dead_fraction or 0.0 for layer in layers]
        saturated = [layer.saturated_fraction or 0.0 for layer in layers]
        ax.barh(y - 0.2, dead, height=0.4, color="#d62728", label="dead")
        ax.barh(y + 0.2, saturated, height=0.4, color="#9467bd", label="saturated")
        ax.set_yticks(y, [layer.name for layer in layers])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        decorate(ax, f"Dead and saturated units (epoch {last.epoch})", "fraction of units", "")
        ax.legend(loc="lower right")
    fig.suptitle(f"Trial {trial.label}: unit activity")
    return save(fig, path, dpi)


def architecture_text(trial: TrialView) -> str:
    """The architecture summary: the trainer's description, then one line per layer."""
    lines = [line for line in (trial.record.architecture or "").splitlines() if line.strip()]
    last = trial.last
    if last and last.layers:
        if lines:
            lines.append("")
        lines.append(f"{'layer':<28} {'kind':<22} {'parameters':>12}")
        lines += [f"{layer.name[:28]:<28} {layer.kind[:22]:<22} {layer.parameter_count:>12,}" for layer in last.layers]
    count = trial.record.parameter_count
    if count:
        lines.append(f"total parameters: {count:,}")
    return "\n".join(lines) if lines else "no architecture recorded"


def architecture(trial: TrialView, path: Path, dpi: int) -> Path:
    """The architecture summary as monospace text."""
    text = architecture_text(trial).splitlines()
    shown = text[:60] + ([f"... {len(text) - 60} more lines"] if len(text) > 60 else [])
    fig = figure(8, 0.9 + 0.17 * len(shown), constrained=False)
    ax = fig.subplots()
    margins(fig, left=0.03, right=0.97, bottom=0.02, top=1 - 0.55 / (0.9 + 0.17 * len(shown)))
    ax.set_axis_off()
    ax.text(0.0, 1.0, "\n".join(shown), family="monospace", fontsize=8, va="top", ha="left", transform=ax.transAxes)
    fig.suptitle(f"Trial {trial.label}: architecture")
    return save(fig, path, dpi)


def draw_trial(trial: TrialView, folder: Path, dpi: int) -> dict[str, Path]:
    """Every per-trial plot of ``trial`` into ``folder``; returns name -> path."""
    drawers = {
        "learning_curves": learning_curves,
        "gradient_flow": gradient_flow,
        "weight_distributions": weight_distributions,
        "unit_fractions": unit_fractions,
        "architecture": architecture,
    }
    paths = {name: folder / f"{name}.png" for name in TRIAL_PLOTS}
    return {name: drawn_or_note(partial(drawers[name], trial, path, dpi), path, dpi) for name, path in paths.items()}
