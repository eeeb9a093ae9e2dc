from __future__ import annotations

import math

import pytest

from services.health import components as c
from services.health.thresholds import NEUTRAL

# ---- neuron utilization -----------------------------------------------------------------------


def test_all_dead_relu_layers_score_near_zero(epoch, layer):
    dead = [layer(f"dense_{i}", dead_fraction=1.0, saturated_fraction=0.0) for i in range(3)]
    history = [epoch(1, layers=dead), epoch(2, layers=dead)]
    assert c.neuron_utilization(history) < 0.1


def test_healthy_layers_score_high(epoch, layer):
    layers = [layer("conv", dead_fraction=0.05, saturated_fraction=0.0), layer("dense", dead_fraction=0.1)]
    assert c.neuron_utilization([epoch(1, layers=layers)]) > 0.8


def test_utilization_is_mean_over_layers_of_one_minus_dead_plus_saturated(epoch, layer):
    layers = [
        layer("a", dead_fraction=0.3, saturated_fraction=0.2),  # 0.5
        layer("b", dead_fraction=0.0),  # 1.0 (saturated missing counts 0)
        layer("c", dead_fraction=0.8, saturated_fraction=0.7),  # capped: 0.0
        layer("pool", parameter_count=0),  # no stats: not counted
    ]
    m = c.measure_neuron_utilization([epoch(1, layers=layers)])
    assert m.value == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert "c with 80% dead" in m.explanation


def test_utilization_reads_the_latest_epoch(epoch, layer):
    history = [epoch(1, layers=[layer("d", dead_fraction=0.0)]), epoch(2, layers=[layer("d", dead_fraction=0.95)])]
    assert c.neuron_utilization(history) == pytest.approx(0.05)


def test_utilization_without_activation_stats_is_neutral_and_unmeasured(epoch, layer):
    m = c.measure_neuron_utilization([epoch(1, layers=[layer("d", gradient_norm=0.1)])])
    assert (m.value, m.measured) == (NEUTRAL, False)
    assert c.measure_neuron_utilization([]).measured is False


# ---- gradient health --------------------------------------------------------------------------


def _grads(layer, *norms):
    return [layer(f"l{i}", gradient_norm=n) for i, n in enumerate(norms)]


def test_healthy_gradients_score_high(epoch, layer):
    history = [epoch(1, layers=_grads(layer, 0.5, 0.1, 0.05)), epoch(2, layers=_grads(layer, 0.4, 0.08, 0.04))]
    assert c.gradient_health(history) > 0.9


def test_exploding_growing_gradients_score_low(epoch, layer):
    history = [epoch(i, layers=_grads(layer, 1e4 * 10**i, 3e4 * 10**i)) for i in range(1, 4)]
    assert c.gradient_health(history) < 0.3


def test_vanishing_gradients_score_low(epoch, layer):
    history = [epoch(1, layers=_grads(layer, 1e-9, 0.1, 0.2))]
    assert c.gradient_health(history) < 0.3
    assert c.gradient_health([epoch(1, layers=_grads(layer, 1e-9, 1e-9))]) == 0.0


def test_large_log_norm_spread_alone_is_penalized(epoch, layer):
    # Every layer within [1e-7, 1e3], but 5 decades apart: spread factor 1 - (5 - 2) / 4 = 0.25.
    m = c.measure_gradient_health([epoch(1, layers=_grads(layer, 1e-6, 1e-3, 1e-1))])
    assert m.value == pytest.approx(0.25)
    assert "5.0 decades" in m.explanation


def test_missing_norm_on_a_weighted_layer_counts_unhealthy_but_weightless_layers_do_not(epoch, layer):
    layers = [*_grads(layer, 0.1, 0.2), layer("nan_layer", gradient_norm=None), layer("pool", parameter_count=0)]
    m = c.measure_gradient_health([epoch(1, layers=layers)])
    assert m.value == pytest.approx(2 / 3)
    assert "nan_layer" in m.explanation and "pool" not in m.explanation
    assert c.gradient_health([epoch(1, layers=[*_grads(layer, 0.1), layer("nan", gradient_norm=math.nan)])]) == 0.5


def test_sudden_growth_counts_as_exploding(epoch, layer):
    history = [epoch(1, layers=_grads(layer, 0.01, 0.02)), epoch(2, layers=_grads(layer, 5.0, 0.02))]
    findings = c.gradient_findings(history[1], history[0])
    assert findings is not None
    assert [f.status for f in findings] == [c.GradientStatus.GROWING, c.GradientStatus.OK]
    assert c.gradient_health(history) == pytest.approx(0.5 * (1 - (math.log10(250) - 2) / 4))


def test_gradient_health_without_norms_is_unmeasured(epoch, layer):
    m = c.measure_gradient_health([epoch(1, layers=[layer("d", dead_fraction=0.1)])])
    assert (m.value, m.measured) == (NEUTRAL, False)


# ---- training stability -----------------------------------------------------------------------


def test_smooth_decreasing_loss_is_stable(curve):
    assert c.training_stability(curve([2.0, 1.2, 0.8, 0.6, 0.5, 0.45])) > 0.8


def test_loss_increasing_every_epoch_is_unstable(curve):
    assert c.training_stability(curve([1.0, 1.1, 1.25, 1.4, 1.6])) < 0.3


def test_nan_loss_scores_zero(curve):
    m = c.measure_training_stability(curve([1.0, 0.8, None]))
    assert m.value == 0.0
    assert "epoch 3" in m.explanation


def test_stability_arithmetic_for_one_bump(curve):
    # rises: 0, 0.1, 0 -> one rising step in three, mean rise 0.1 / 3
    expected = (1 - 0.7 / 3) * math.exp(-10 * 0.1 / 3)
    assert c.training_stability(curve([1.0, 0.8, 0.88, 0.7])) == pytest.approx(expected)


def test_tiny_wiggles_are_not_rises(curve):
    assert c.training_stability(curve([1.0, 0.9, 0.905, 0.8])) > 0.9


def test_one_epoch_stability_is_neutral(curve):
    m = c.measure_training_stability(curve([0.7]))
    assert (m.value, m.measured) == (NEUTRAL, False)


# ---- convergence ------------------------------------------------------------------------------


def test_overfitting_curves_score_low(curve):
    history = curve(
        [0.9, 0.5, 0.3, 0.15, 0.08],
        val_losses=[0.9, 0.6, 0.65, 0.8, 1.0],
        accuracies=[0.7, 0.85, 0.92, 0.97, 0.99],
        val_accuracies=[0.7, 0.8, 0.8, 0.79, 0.78],
    )
    assert c.convergence(history) < 0.3


def test_good_fit_scores_high(curve):
    history = curve(
        [1.0, 0.6, 0.4, 0.3],
        val_losses=[1.0, 0.65, 0.45, 0.36],
        accuracies=[0.7, 0.8, 0.86, 0.9],
        val_accuracies=[0.68, 0.79, 0.84, 0.88],
    )
    assert c.convergence(history) > 0.8


def test_loss_that_never_falls_has_not_converged(curve):
    assert c.convergence(curve([2.3, 2.31, 2.3, 2.3])) < 0.1


def test_convergence_gap_factor_arithmetic_on_one_epoch(curve):
    m = c.measure_convergence(curve([0.5], accuracies=[0.95], val_accuracies=[0.80]))
    assert m.measured
    assert m.value == pytest.approx(1 - (0.15 - 0.05) / 0.25)


def test_validation_rise_only_counts_while_training_loss_falls(curve):
    # Both losses rise together: divergence, not overfitting; the trend factor stays 1.
    rising_together = curve([0.5, 0.4, 0.45], val_losses=[0.5, 0.4, 0.5])
    overfit = curve([0.5, 0.4, 0.3], val_losses=[0.5, 0.4, 0.5])
    assert c.convergence(rising_together) == pytest.approx(1.0)
    assert c.convergence(overfit) == pytest.approx(1 - 0.25 / 0.5)


# ---- parameter efficiency ---------------------------------------------------------------------


def test_efficiency_falls_as_parameters_grow_at_equal_accuracy():
    scores = [c.parameter_efficiency(0.9, n) for n in (5_000, 50_000, 500_000, 5_000_000, 50_000_000)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_efficiency_formula():
    assert c.parameter_efficiency(0.9, 10_000) == pytest.approx(0.9)
    assert c.parameter_efficiency(0.9, 1_000_000) == pytest.approx(0.9 / (1 + 0.5 * 2))
    assert c.measure_parameter_efficiency(None, 1000).measured is False
    assert c.measure_parameter_efficiency(0.9, 0).measured is False
