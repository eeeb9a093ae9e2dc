"""Dead and saturated units, measured on the outputs of activation layers over a probe batch.

A *unit* is one feature of the layer's last axis (a Conv2D channel, a Dense neuron, an LSTM
cell), pooled over every sample and position of the probe batch.

- ReLU-like activations (relu, elu, selu, gelu): a unit is **dead** when its output is never
  positive on the probe batch; such a unit passes (almost) no gradient and learns nothing.
- Bounded activations (tanh, sigmoid, LSTM outputs): a unit is **dead** when its output never
  leaves zero (|y| < 1e-3; for sigmoid, y < 1e-3), and **saturated** when it sits within 3% of a
  bound (|y| > 0.97 for tanh, y < 0.03 or y > 0.97 for sigmoid) on at least 90% of its positions,
  where the derivative is near zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RELU_LIKE = frozenset({"relu", "elu", "selu", "gelu", "leaky_relu", "relu6", "swish", "silu"})
TANH_LIKE = frozenset({"tanh", "lstm"})
SIGMOID_LIKE = frozenset({"sigmoid", "hard_sigmoid"})

ZERO = 1e-3
SATURATION_MARGIN = 0.03
SATURATED_SHARE = 0.9


@dataclass(frozen=True)
class ActivationStats:
    mean: float
    std: float
    dead_fraction: float | None
    saturated_fraction: float | None


@dataclass(frozen=True)
class UnitSummary:
    """What the statistics need of a layer's outputs, reduced over samples and positions: one value per unit.

    ``unit_pinned_share``: the share of a unit's positions within ``SATURATION_MARGIN`` of a bound
    (tanh-like: ``|y| > 0.97``; sigmoid-like: ``y < 0.03`` or ``y > 0.97``); None for other kinds.
    """

    mean: float
    std: float
    unit_max: npt.NDArray[np.floating]
    unit_abs_max: npt.NDArray[np.floating]
    unit_pinned_share: npt.NDArray[np.floating] | None


def summarize(kind: str, outputs: npt.NDArray[np.floating]) -> UnitSummary:
    """The per-unit summary of one layer's outputs ``(..., units)``, in NumPy (the probe computes the
    same reductions in its compiled graph: ``services.trainer.telemetry.gradients``)."""
    values = np.asarray(outputs, dtype=np.float32)
    per_unit = values.reshape(-1, values.shape[-1])
    pinned = None
    if kind in TANH_LIKE:
        pinned = (np.abs(per_unit) > 1 - SATURATION_MARGIN).mean(axis=0)
    elif kind in SIGMOID_LIKE:
        pinned = ((per_unit < SATURATION_MARGIN) | (per_unit > 1 - SATURATION_MARGIN)).mean(axis=0)
    return UnitSummary(
        mean=float(per_unit.mean()),
        std=float(per_unit.std()),
        unit_max=per_unit.max(axis=0),
        unit_abs_max=np.abs(per_unit).max(axis=0),
        unit_pinned_share=pinned,
    )


def stats_from_summary(kind: str, summary: UnitSummary) -> ActivationStats:
    """Dead and saturated fractions of a layer's units, from their summary, for an activation of ``kind``."""
    mean, std = summary.mean, summary.std
    if kind in RELU_LIKE:
        return ActivationStats(mean, std, float((summary.unit_max <= 0.0).mean()), None)
    pinned = summary.unit_pinned_share
    saturated = float((pinned >= SATURATED_SHARE).mean()) if pinned is not None else None
    if kind in TANH_LIKE:
        return ActivationStats(mean, std, float((summary.unit_abs_max < ZERO).mean()), saturated)
    if kind in SIGMOID_LIKE:
        return ActivationStats(mean, std, float((summary.unit_max < ZERO).mean()), saturated)
    return ActivationStats(mean, std, None, None)


def activation_stats(kind: str, outputs: npt.NDArray[np.floating]) -> ActivationStats:
    """Statistics of one layer's outputs ``(..., units)`` for an activation of the given ``kind``."""
    return stats_from_summary(kind, summarize(kind, outputs))
