"""The five health components: pure functions from telemetry to a score in [0, 1], 1 being healthy.

Each component has a ``measure_*`` function that returns a ``Measurement`` (the score, one line of
plain language saying why, and whether there was anything to measure) and a float shortcut without
the prefix. ``history`` is one trial's epochs in ascending ``epoch`` order. A component with nothing
to measure yet (no activation statistics, a single epoch...) scores ``NEUTRAL`` (0.5) with
``measured=False``; ``overall.assess`` then leaves it out of ``overall_health``. Thresholds live in
``services.health.thresholds``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from contracts.telemetry import EpochTelemetry, LayerTelemetry
from services.health import thresholds as t


@dataclass(frozen=True)
class Measurement:
    """One component's score, its one-line explanation, and whether any data backed it."""

    value: float
    explanation: str
    measured: bool = True


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else ``None`` (NaN, Inf and missing read alike)."""
    return value if value is not None and math.isfinite(value) else None


def clamp01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _unmeasured(why: str) -> Measurement:
    return Measurement(t.NEUTRAL, f"not measured: {why}", measured=False)


# ---- neuron utilization -----------------------------------------------------------------------


def _fraction(value: float | None) -> float:
    v = finite(value)
    return clamp01(v) if v is not None else 0.0


def _has_activation_stats(layer: LayerTelemetry) -> bool:
    return finite(layer.dead_fraction) is not None or finite(layer.saturated_fraction) is not None


def measure_neuron_utilization(history: Sequence[EpochTelemetry]) -> Measurement:
    """Share of units doing useful work, in the latest epoch that has activation statistics.

    For every layer with a ``dead_fraction`` or ``saturated_fraction`` (a missing one counts as 0):
    ``layer_utilization = 1 - min(1, dead_fraction + saturated_fraction)``.
    ``neuron_utilization`` is the plain mean of ``layer_utilization`` over those layers (every layer
    counts the same, whatever its width). All-dead ReLU layers give 0; no dead or saturated unit gives 1.
    Not measured when no epoch carries activation statistics.
    """
    for epoch in reversed(history):
        layers = [layer for layer in epoch.layers if _has_activation_stats(layer)]
        if layers:
            break
    else:
        return _unmeasured("no layer reported dead or saturated unit fractions")
    used = [1.0 - min(1.0, _fraction(ly.dead_fraction) + _fraction(ly.saturated_fraction)) for ly in layers]
    value = clamp01(sum(used) / len(used))
    worst_index = min(range(len(layers)), key=used.__getitem__)
    worst = layers[worst_index]
    where = f"{len(layers)} layer{'s' if len(layers) != 1 else ''} at epoch {epoch.epoch}"
    if used[worst_index] >= 1.0:
        return Measurement(value, f"every unit is active (none dead or saturated) in {where}")
    return Measurement(
        value,
        f"{value:.0%} of units active on average over {where}; worst: {worst.name} with "
        f"{_fraction(worst.dead_fraction):.0%} dead and {_fraction(worst.saturated_fraction):.0%} saturated units",
    )


def neuron_utilization(history: Sequence[EpochTelemetry]) -> float:
    """Float shortcut of ``measure_neuron_utilization``."""
    return measure_neuron_utilization(history).value


# ---- gradient health --------------------------------------------------------------------------


class GradientStatus(StrEnum):
    OK = "ok"
    VANISHING = "vanishing"
    EXPLODING = "exploding"
    GROWING = "growing"
    NON_FINITE = "non-finite"


@dataclass(frozen=True)
class GradientFinding:
    """One layer's gradient norm in one epoch and what it means; ``growth`` is new/previous norm."""

    layer: str
    norm: float | None
    status: GradientStatus
    growth: float | None = None


def gradient_findings(epoch: EpochTelemetry, previous: EpochTelemetry | None = None) -> list[GradientFinding] | None:
    """Classify the gradient norm of every layer that has trainable weights; ``None`` when the epoch
    reports no gradient norm at all (gradients were not measured).

    A layer takes part when it reports a gradient norm or has parameters. Its status is, first match:
    ``NON_FINITE`` (norm missing, NaN or Inf while the layer has weights), ``VANISHING``
    (norm < ``VANISHING_NORM`` = 1e-7), ``EXPLODING`` (norm > ``EXPLODING_NORM`` = 1e3), ``GROWING``
    (norm > ``GROWTH_FLOOR`` = 1 and at least ``GROWTH_FACTOR`` = 100 times the same layer's norm in
    ``previous``), else ``OK``.
    """
    if all(layer.gradient_norm is None for layer in epoch.layers):
        return None
    before = {ly.name: finite(ly.gradient_norm) for ly in previous.layers} if previous is not None else {}
    findings: list[GradientFinding] = []
    for layer in epoch.layers:
        if layer.gradient_norm is None and layer.parameter_count <= 0:
            continue
        norm = finite(layer.gradient_norm)
        prev = before.get(layer.name)
        growth = norm / prev if norm is not None and prev else None
        if norm is None:
            status = GradientStatus.NON_FINITE
        elif norm < t.VANISHING_NORM:
            status = GradientStatus.VANISHING
        elif norm > t.EXPLODING_NORM:
            status = GradientStatus.EXPLODING
        elif growth is not None and norm > t.GROWTH_FLOOR and growth >= t.GROWTH_FACTOR:
            status = GradientStatus.GROWING
        else:
            status = GradientStatus.OK
        findings.append(GradientFinding(layer.name, norm, status, growth))
    return findings


def log_norm_spread(findings: Sequence[GradientFinding]) -> float:
    """``max - min`` of log10 gradient norms over layers with a positive finite norm (0 below two)."""
    logs = [math.log10(f.norm) for f in findings if f.norm is not None and f.norm > 0]
    return max(logs) - min(logs) if len(logs) >= 2 else 0.0


def _describe(finding: GradientFinding) -> str:
    if finding.norm is None:
        return f"{finding.layer} NaN/missing"
    if finding.status is GradientStatus.GROWING:
        return f"{finding.layer} grew {finding.growth:.0f}x to {finding.norm:.1e}"
    return f"{finding.layer} {finding.status.value} ({finding.norm:.1e})"


def measure_gradient_health(history: Sequence[EpochTelemetry]) -> Measurement:
    """Whether every layer gets a usable gradient, in the latest epoch that has gradient norms.

    With the layers classified by ``gradient_findings`` (against the epoch before):
    ``healthy_share`` = share of taking-part layers whose status is ``OK`` (vanishing, exploding,
    suddenly growing and NaN/missing norms all count as unhealthy);
    ``spread`` = max - min of log10 norms across layers, in decades;
    ``spread_factor = 1 - clamp((spread - 2) / (6 - 2), 0, 1)``: free up to 2 decades, 0 at 6.
    ``gradient_health = healthy_share * spread_factor``. Not measured when no epoch has gradient norms.
    """
    for index in range(len(history) - 1, -1, -1):
        findings = gradient_findings(history[index], history[index - 1] if index > 0 else None)
        if findings:
            break
    else:
        return _unmeasured("no layer reported a gradient norm")
    healthy = sum(f.status is GradientStatus.OK for f in findings)
    spread = log_norm_spread(findings)
    spread_factor = 1.0 - clamp01((spread - t.SPREAD_OK_DECADES) / (t.SPREAD_ZERO_DECADES - t.SPREAD_OK_DECADES))
    value = clamp01(healthy / len(findings) * spread_factor)
    positive = sum(f.norm is not None and f.norm > 0 for f in findings)
    tail = f"; gradient norms span {spread:.1f} decades across layers" if positive >= 2 else ""
    if healthy == len(findings):
        subject = "the one layer has a gradient norm" if healthy == 1 else f"all {healthy} layers have gradient norms"
        bounds = f"[{t.VANISHING_NORM:.0e}, {t.EXPLODING_NORM:.0e}]"
        return Measurement(value, f"{subject} within {bounds} at epoch {history[index].epoch}{tail}")
    bad = [f for f in findings if f.status is not GradientStatus.OK]
    listed = ", ".join(_describe(f) for f in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return Measurement(
        value, f"{len(bad)} of {len(findings)} layers unhealthy at epoch {history[index].epoch}: {listed}{tail}"
    )


def gradient_health(history: Sequence[EpochTelemetry]) -> float:
    """Float shortcut of ``measure_gradient_health``."""
    return measure_gradient_health(history).value


# ---- training stability -----------------------------------------------------------------------


def relative_change(old: float, new: float) -> float:
    """``(new - old) / |old|`` (an ``old`` of 0 reads as 1e-12)."""
    return (new - old) / max(abs(old), 1e-12)


def measure_training_stability(history: Sequence[EpochTelemetry]) -> Measurement:
    """How smoothly the training loss fell from epoch to epoch.

    0 as soon as any epoch's training loss is NaN/Inf (``loss is None``). Otherwise, for the losses
    ``L_1..L_n`` (n >= 2), each step's rise is ``r_i = min(1, max(0, (L_i - L_{i-1}) / L_{i-1}))``
    (a fall counts 0, a rise is capped at a doubling), and
    ``up`` = share of steps where the loss rose by more than 1%, ``rise`` = mean of ``r_i``;
    ``training_stability = (1 - 0.7 * up) * exp(-10 * rise)``.
    A loss that never rises scores 1; one rising 10% every epoch scores 0.3 * e^-1 = 0.11.
    Uses the training loss only (validation behaviour is ``convergence``). Not measured below two epochs.
    """
    broken = next((e for e in history if finite(e.loss) is None), None)
    if broken is not None:
        return Measurement(0.0, f"training loss became NaN/Inf at epoch {broken.epoch}")
    losses = [v for e in history if (v := finite(e.loss)) is not None]
    if len(losses) < 2:
        return _unmeasured("needs at least two epochs of training loss")
    rises = [min(1.0, max(0.0, relative_change(a, b))) for a, b in pairwise(losses)]
    ups = sum(r > t.RISE_TOLERANCE for r in rises)
    mean_rise = sum(rises) / len(rises)
    value = clamp01((1.0 - t.UP_FRACTION_WEIGHT * ups / len(rises)) * math.exp(-t.RISE_SHARPNESS * mean_rise))
    if ups == 0:
        return Measurement(value, f"training loss fell steadily over {len(losses)} epochs (no rise above 1%)")
    return Measurement(
        value,
        f"training loss rose in {ups} of {len(rises)} epoch steps, by {mean_rise:.1%} per step on average",
    )


def training_stability(history: Sequence[EpochTelemetry]) -> float:
    """Float shortcut of ``measure_training_stability``."""
    return measure_training_stability(history).value


# ---- convergence ------------------------------------------------------------------------------


def _gap_factor(history: Sequence[EpochTelemetry]) -> tuple[float, str] | None:
    for e in reversed(history):
        acc, val = finite(e.accuracy), finite(e.val_accuracy)
        if acc is not None and val is not None:
            gap = acc - val
            factor = 1.0 - clamp01((gap - t.GAP_OK) / (t.GAP_ZERO - t.GAP_OK))
            return factor, f"train-validation accuracy gap {gap:+.2f}"
    return None


def _val_trend_factor(history: Sequence[EpochTelemetry]) -> tuple[float, str] | None:
    points = [(finite(e.loss), v) for e in history if (v := finite(e.val_loss)) is not None]
    if len(points) < 2:
        return None
    best = min(range(len(points)), key=lambda i: points[i][1])
    (train_best, val_best), (train_last, val_last) = points[best], points[-1]
    if best == len(points) - 1 or train_best is None or train_last is None or train_last >= train_best:
        return 1.0, "no overfitting trend (validation loss not rising while training loss falls)"
    rise = relative_change(val_best, val_last)
    return 1.0 - clamp01(rise / t.VAL_RISE_ZERO), f"validation loss {rise:.0%} above its best while training loss fell"


def _progress_factor(history: Sequence[EpochTelemetry]) -> tuple[float, str] | None:
    losses = [v for e in history if (v := finite(e.loss)) is not None]
    if len(losses) < 2:
        return None
    drop = -relative_change(losses[0], losses[-1])
    if losses[-1] < t.FITTED_LOSS:
        return 1.0, f"training loss {losses[-1]:.3f} already fits the training data"
    if drop >= t.PROGRESS_FULL:
        return 1.0, f"training loss fell {drop:.0%}"
    moved = f"rose {-drop:.1%}" if drop < 0 else f"fell only {drop:.1%}"
    return clamp01(drop / t.PROGRESS_FULL), f"training loss {moved} from first to last epoch"


def measure_convergence(history: Sequence[EpochTelemetry]) -> Measurement:
    """Whether training converged to something that generalizes: the product of three factors.

    - gap factor: ``g = accuracy - val_accuracy`` at the latest epoch with both;
      ``1 - clamp((g - 0.05) / (0.30 - 0.05), 0, 1)`` (free up to 0.05, 0 at a 0.30 gap).
    - validation-trend factor (overfitting): ``best`` = lowest validation loss, at epoch b. When b is
      before the latest epoch and the training loss fell since b, ``rise = (val_last - best) / best``
      and the factor is ``1 - clamp(rise / 0.5, 0, 1)``; otherwise 1.
    - progress factor: ``d = (L_first - L_last) / L_first`` for the training loss; 1 when d >= 5% or
      ``L_last < 0.05`` (already fitted), else ``clamp(d / 0.05, 0, 1)``: 0 when the loss never fell.
    A factor without data (one epoch, no validation) counts 1. ``convergence = gap * trend * progress``.
    Not measured when none of the three has data.
    """
    parts = [p for p in (_gap_factor(history), _val_trend_factor(history), _progress_factor(history)) if p]
    if not parts:
        return _unmeasured("needs validation accuracy or at least two epochs of losses")
    value = 1.0
    for factor, _ in parts:
        value *= factor
    return Measurement(clamp01(value), "; ".join(text for _, text in parts))


def convergence(history: Sequence[EpochTelemetry]) -> float:
    """Float shortcut of ``measure_convergence``."""
    return measure_convergence(history).value


# ---- parameter efficiency ---------------------------------------------------------------------


def size_penalty(parameter_count: int) -> float:
    """1 up to 1e4 parameters, then ``1 / (1 + 0.5 * log10(params / 1e4))``: 1e5 -> 0.67, 1e6 -> 0.5."""
    if parameter_count <= t.EFFICIENCY_FREE_PARAMS:
        return 1.0
    return 1.0 / (1.0 + t.EFFICIENCY_DECADE_COST * math.log10(parameter_count / t.EFFICIENCY_FREE_PARAMS))


def measure_parameter_efficiency(val_accuracy: float | None, parameter_count: int | None) -> Measurement:
    """Accuracy bought per order of magnitude of model size.

    ``parameter_efficiency = val_accuracy * size_penalty(parameter_count)`` where ``size_penalty`` is 1
    up to 1e4 parameters and ``1 / (1 + 0.5 * log10(params / 1e4))`` above (1e5 -> 0.67, 1e6 -> 0.5,
    1e7 -> 0.4). At equal accuracy a bigger model scores lower. Not measured without a validation
    accuracy or a positive parameter count.
    """
    acc = finite(val_accuracy)
    if acc is None or parameter_count is None or parameter_count <= 0:
        return _unmeasured("needs a validation accuracy and the parameter count")
    penalty = size_penalty(parameter_count)
    return Measurement(
        clamp01(acc * penalty),
        f"validation accuracy {acc:.3f} with {parameter_count:,} parameters (size penalty x{penalty:.2f})",
    )


def parameter_efficiency(val_accuracy: float | None, parameter_count: int | None) -> float:
    """Float shortcut of ``measure_parameter_efficiency``."""
    return measure_parameter_efficiency(val_accuracy, parameter_count).value
