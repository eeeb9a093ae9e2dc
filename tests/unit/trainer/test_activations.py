"""Dead and saturated units on constructed activation outputs."""

from __future__ import annotations

import numpy as np
import pytest

from services.trainer.telemetry.activations import activation_stats


def test_relu_layer_whose_units_never_fire_is_all_dead() -> None:
    outputs = np.zeros((64, 5, 5, 8), dtype=np.float32)
    stats = activation_stats("relu", outputs)
    assert stats.dead_fraction == 1.0
    assert stats.saturated_fraction is None


def test_relu_dead_fraction_counts_units_not_values() -> None:
    rng = np.random.default_rng(0)
    outputs = np.abs(rng.normal(size=(32, 10))).astype(np.float32)
    outputs[:, :3] = 0.0  # three of ten units never fire
    outputs[0, 3:] = 0.0  # one silent sample does not make a unit dead
    assert activation_stats("relu", outputs).dead_fraction == pytest.approx(0.3)


def test_tanh_units_pinned_at_the_bounds_are_saturated() -> None:
    rng = np.random.default_rng(1)
    outputs = rng.uniform(-0.5, 0.5, size=(100, 4)).astype(np.float32)
    outputs[:, 0] = 0.999
    outputs[:, 1] = -0.995
    stats = activation_stats("tanh", outputs)
    assert stats.saturated_fraction == pytest.approx(0.5)
    assert stats.dead_fraction == 0.0


def test_sigmoid_saturation_at_either_bound() -> None:
    outputs = np.full((50, 4), 0.5, dtype=np.float32)
    outputs[:, 0] = 0.001
    outputs[:, 1] = 0.999
    stats = activation_stats("sigmoid", outputs)
    assert stats.saturated_fraction == pytest.approx(0.5)


def test_unknown_activation_reports_only_moments() -> None:
    stats = activation_stats("softplus", np.ones((4, 3), dtype=np.float32))
    assert (stats.mean, stats.dead_fraction, stats.saturated_fraction) == (1.0, None, None)
