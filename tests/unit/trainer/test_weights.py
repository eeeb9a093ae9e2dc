"""Weight statistics and histograms of one layer."""

from __future__ import annotations

import numpy as np
import pytest

from services.trainer.telemetry.weights import histogram, is_bias, weight_stats


def test_kernels_and_biases_are_summarised_separately() -> None:
    kernel = np.array([[1.0, -3.0], [2.0, 0.0]], dtype=np.float32)
    bias = np.array([0.5, 1.5], dtype=np.float32)
    stats = weight_stats([("dense/kernel", kernel), ("dense/bias", bias)], bins=4)
    assert stats.weight_mean == pytest.approx(0.0)
    assert stats.weight_abs_max == pytest.approx(3.0)
    assert stats.bias_mean == pytest.approx(1.0)
    assert stats.weight_histogram is not None and sum(stats.weight_histogram.counts) == 4
    assert stats.bias_histogram is not None and len(stats.bias_histogram.edges) == 5


def test_batch_norm_offsets_count_as_biases() -> None:
    assert is_bias("conv1_bn/beta") and is_bias("bias") and not is_bias("conv1_bn/gamma")


def test_histogram_ignores_non_finite_values() -> None:
    h = histogram(np.array([1.0, np.nan, np.inf, 2.0]), bins=2)
    assert sum(h.counts) == 2


def test_a_layer_without_biases_has_no_bias_stats() -> None:
    stats = weight_stats([("conv/kernel", np.ones((3, 3, 1, 2), dtype=np.float32))], bins=3)
    assert stats.bias_mean is None and stats.bias_histogram is None
    assert stats.weight_std == pytest.approx(0.0)
