"""Dead and saturated units on constructed activation outputs."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import pytest

from services.trainer.telemetry.activations import activation_stats, stats_from_summary, summarize


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


@pytest.mark.parametrize("kind", ["relu", "tanh", "sigmoid", "softplus"])
def test_the_probe_graph_reduces_activations_as_numpy_does(kind: str) -> None:
    tf = pytest.importorskip("tensorflow")
    from services.trainer.telemetry.gradients import summarize_tensor, to_summary

    rng = np.random.default_rng(2)
    outputs = rng.normal(size=(16, 3, 3, 6)).astype(np.float32)
    outputs[..., 0] = 0.999  # pinned near the upper bound
    outputs[..., 1] = -0.5  # never positive: a dead ReLU unit
    if kind == "sigmoid":
        outputs = (1 / (1 + np.exp(-outputs * 4))).astype(np.float32)
        outputs[..., 2] = 0.0005  # a dead sigmoid unit
    compiled = to_summary({k: v.numpy() for k, v in summarize_tensor(kind, tf.constant(outputs)).items()})
    expected = summarize(kind, outputs)
    assert compiled.mean == pytest.approx(expected.mean, abs=1e-6)
    assert compiled.std == pytest.approx(expected.std, rel=1e-5)
    np.testing.assert_allclose(compiled.unit_max, expected.unit_max)
    np.testing.assert_allclose(compiled.unit_abs_max, expected.unit_abs_max)
    if expected.unit_pinned_share is None:
        assert compiled.unit_pinned_share is None
    else:
        assert compiled.unit_pinned_share is not None
        np.testing.assert_allclose(compiled.unit_pinned_share, expected.unit_pinned_share)
    assert astuple(stats_from_summary(kind, compiled)) == pytest.approx(astuple(stats_from_summary(kind, expected)))
