"""Weight and bias statistics of one layer: mean, spread, largest magnitude and a histogram.

Kernels (and embeddings, recurrent kernels, batch-norm scales) count as *weights*; biases and
batch-norm offsets as *biases*. Only trainable variables are included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from contracts.telemetry import Histogram

BIAS_NAMES = ("bias", "beta")


@dataclass(frozen=True)
class WeightStats:
    weight_mean: float | None = None
    weight_std: float | None = None
    weight_abs_max: float | None = None
    bias_mean: float | None = None
    bias_std: float | None = None
    weight_histogram: Histogram | None = None
    bias_histogram: Histogram | None = None


def histogram(values: npt.NDArray[np.floating], bins: int) -> Histogram:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Histogram(edges=[0.0, 1.0], counts=[0])
    counts, edges = np.histogram(finite, bins=bins)
    return Histogram(edges=[float(e) for e in edges], counts=[int(c) for c in counts])


def is_bias(variable_name: str) -> bool:
    leaf = variable_name.rsplit("/", 1)[-1]
    return any(leaf.startswith(name) for name in BIAS_NAMES)


def weight_stats(variables: list[tuple[str, npt.NDArray[np.floating]]], bins: int) -> WeightStats:
    """Statistics of a layer's ``(name, value)`` trainable variables."""
    kernels = [v.ravel() for name, v in variables if not is_bias(name)]
    biases = [v.ravel() for name, v in variables if is_bias(name)]
    stats = WeightStats()
    if kernels:
        w = np.concatenate(kernels).astype(np.float64)
        stats = replace(
            stats,
            weight_mean=float(w.mean()),
            weight_std=float(w.std()),
            weight_abs_max=float(np.abs(w).max()),
            weight_histogram=histogram(w, bins),
        )
    if biases:
        b = np.concatenate(biases).astype(np.float64)
        stats = replace(stats, bias_mean=float(b.mean()), bias_std=float(b.std()), bias_histogram=histogram(b, bins))
    return stats
