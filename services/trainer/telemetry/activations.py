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


def activation_stats(kind: str, outputs: npt.NDArray[np.floating]) -> ActivationStats:
    """Statistics of one layer's outputs ``(..., units)`` for an activation of the given ``kind``."""
    values = np.asarray(outputs, dtype=np.float32)
    per_unit = values.reshape(-1, values.shape[-1])
    mean, std = float(per_unit.mean()), float(per_unit.std())
    if kind in RELU_LIKE:
        dead = per_unit.max(axis=0) <= 0.0
        return ActivationStats(mean, std, float(dead.mean()), None)
    if kind in TANH_LIKE:
        dead = np.abs(per_unit).max(axis=0) < ZERO
        saturated = (np.abs(per_unit) > 1 - SATURATION_MARGIN).mean(axis=0) >= SATURATED_SHARE
        return ActivationStats(mean, std, float(dead.mean()), float(saturated.mean()))
    if kind in SIGMOID_LIKE:
        dead = per_unit.max(axis=0) < ZERO
        pinned = (per_unit < SATURATION_MARGIN) | (per_unit > 1 - SATURATION_MARGIN)
        return ActivationStats(mean, std, float(dead.mean()), float((pinned.mean(axis=0) >= SATURATED_SHARE).mean()))
    return ActivationStats(mean, std, None, None)
