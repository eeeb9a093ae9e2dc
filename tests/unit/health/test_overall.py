from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from contracts.health import HEALTH_COMPONENTS
from services.health.overall import HealthWeights, assess
from services.health.settings import HealthSettings


@pytest.fixture
def full_history(epoch, layer):
    """Three epochs with every statistic present and middling values."""
    layers = [
        layer("conv", gradient_norm=0.3, dead_fraction=0.2, saturated_fraction=0.1),
        layer("dense", gradient_norm=2e-3, dead_fraction=0.4),
    ]
    return [
        epoch(1, loss=1.0, accuracy=0.70, val_loss=1.0, val_accuracy=0.68, layers=layers),
        epoch(2, loss=0.8, accuracy=0.80, val_loss=0.85, val_accuracy=0.72, layers=layers),
        epoch(3, loss=0.84, accuracy=0.90, val_loss=0.9, val_accuracy=0.74, layers=layers),
    ]


def test_overall_is_the_weighted_mean_of_the_components(full_history, metrics):
    weights = HealthWeights(
        neuron_utilization=1, gradient_health=2, training_stability=3, convergence=4, parameter_efficiency=10
    )
    a = assess(full_history, metrics(val_accuracy=0.74, parameter_count=200_000), weights)
    parts = a.components.model_dump()
    assert list(a.weights.values()) == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.5])
    assert list(a.weights) == list(HEALTH_COMPONENTS)
    expected = sum(a.weights[name] * parts[name] for name in HEALTH_COMPONENTS)
    assert a.overall_health == pytest.approx(expected)
    # Nothing is trivially 0 or 1 here, so a wrong weight would show.
    assert all(0.0 < value < 1.0 for value in parts.values()), parts
    assert set(a.explanations) == set(HEALTH_COMPONENTS)
    assert all(a.explanations.values())


def test_a_single_weight_picks_that_component(full_history, metrics):
    only_gradient = HealthWeights(
        neuron_utilization=0, gradient_health=1, training_stability=0, convergence=0, parameter_efficiency=0
    )
    a = assess(full_history, metrics(), only_gradient)
    assert a.overall_health == pytest.approx(a.components.gradient_health)


def test_default_weights_are_documented_values(full_history, metrics):
    a = assess(full_history, metrics())
    assert a.weights == pytest.approx(
        {
            "neuron_utilization": 0.25,
            "gradient_health": 0.25,
            "training_stability": 0.2,
            "convergence": 0.2,
            "parameter_efficiency": 0.1,
        }
    )


def test_unmeasured_components_get_zero_weight_and_the_rest_renormalize(epoch):
    # One epoch, no layer stats, no metrics: only convergence (the accuracy gap) can be measured
    # besides parameter efficiency, which needs a parameter count (none here).
    a = assess([epoch(1, accuracy=0.9, val_accuracy=0.9)])
    assert a.weights["convergence"] == pytest.approx(1.0)
    assert sum(a.weights.values()) == pytest.approx(1.0)
    assert a.overall_health == pytest.approx(a.components.convergence)
    assert "left out of overall health" in a.explanations["neuron_utilization"]
    assert a.components.neuron_utilization == 0.5


def test_nothing_measurable_gives_a_neutral_assessment():
    a = assess([])
    assert a.overall_health == pytest.approx(0.5)
    assert sum(a.weights.values()) == pytest.approx(1.0)


def test_overall_stays_in_unit_interval_for_extreme_histories(epoch, layer, metrics):
    worst_layers = [layer("d", gradient_norm=math.inf, dead_fraction=1.0, saturated_fraction=1.0)]
    best_layers = [layer("d", gradient_norm=0.1, dead_fraction=0.0, saturated_fraction=0.0)]
    worst = [
        epoch(1, loss=1.0, accuracy=1.0, val_loss=1.0, val_accuracy=0.0, layers=worst_layers),
        epoch(2, loss=None, accuracy=1.0, val_loss=None, val_accuracy=0.0, layers=worst_layers),
    ]
    best = [
        epoch(1, loss=1.0, accuracy=0.9, val_loss=1.0, val_accuracy=0.9, layers=best_layers),
        epoch(2, loss=0.01, accuracy=1.0, val_loss=0.01, val_accuracy=1.0, layers=best_layers),
    ]
    low = assess(worst, metrics(val_accuracy=0.0, parameter_count=10**9))
    high = assess(best, metrics(val_accuracy=1.0, parameter_count=100))
    assert low.overall_health == pytest.approx(0.0)
    assert high.overall_health == pytest.approx(1.0)
    assert 0.0 <= low.overall_health <= high.overall_health <= 1.0


def test_efficiency_prefers_trial_metrics_over_telemetry(epoch, layer, metrics):
    history = [epoch(1, val_accuracy=0.5, layers=[layer("d", parameter_count=100)])]
    from_telemetry = assess(history)
    from_metrics = assess(history, metrics(val_accuracy=0.9, parameter_count=1_000_000))
    assert from_telemetry.components.parameter_efficiency == pytest.approx(0.5)
    assert from_metrics.components.parameter_efficiency == pytest.approx(0.9 / 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"convergence": -0.1},
        {"gradient_health": math.nan},
        {"gradient_health": math.inf},
        {"unknown": 1.0},
        dict.fromkeys(HEALTH_COMPONENTS, 0.0),
    ],
)
def test_invalid_weights_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        HealthWeights(**kwargs)


def test_weights_normalize_keeping_ratios():
    w = HealthWeights(
        neuron_utilization=2, gradient_health=2, training_stability=0, convergence=0, parameter_efficiency=4
    )
    assert w.normalized() == pytest.approx(
        {
            "neuron_utilization": 0.25,
            "gradient_health": 0.25,
            "training_stability": 0.0,
            "convergence": 0.0,
            "parameter_efficiency": 0.5,
        }
    )


def test_settings_read_weights_from_the_environment(monkeypatch):
    monkeypatch.setenv("HPO_HEALTH_WEIGHTS__CONVERGENCE", "0.5")
    monkeypatch.setenv("HPO_HEALTH_MAX_TRACKED_TRIALS", "7")
    settings = HealthSettings()
    assert settings.weights.convergence == 0.5
    assert settings.weights.gradient_health == 0.25
    assert settings.max_tracked_trials == 7


def test_settings_accept_json_weights_and_reject_bad_ones(monkeypatch):
    monkeypatch.setenv("HPO_HEALTH_WEIGHTS", '{"parameter_efficiency": 0.0, "convergence": 1.0}')
    assert HealthSettings().weights.convergence == 1.0
    monkeypatch.setenv("HPO_HEALTH_WEIGHTS", '{"convergence": -1}')
    with pytest.raises(ValidationError):
        HealthSettings()
