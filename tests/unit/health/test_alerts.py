from __future__ import annotations

import math

from contracts.enums import AlertKind, Severity
from services.health.alerts import detect_alerts, latest_alerts


def _kinds(alerts):
    return {(a.kind, a.layer) for a in alerts}


def test_healthy_history_raises_nothing(curve, layer):
    layers = [layer("conv", gradient_norm=0.2, dead_fraction=0.1), layer("dense", gradient_norm=0.05)]
    history = curve(
        [1.0, 0.7, 0.5, 0.4],
        val_losses=[1.0, 0.75, 0.55, 0.45],
        accuracies=[0.7, 0.8, 0.85, 0.88],
        val_accuracies=[0.7, 0.78, 0.83, 0.86],
        layers=layers,
    )
    assert detect_alerts(history) == []


def test_exploding_gradients_raise_a_critical_alert_per_layer(epoch, layer):
    history = [
        epoch(i, layers=[layer("dense", gradient_norm=1e4 * 10**i), layer("ok", gradient_norm=0.1)]) for i in (1, 2)
    ]
    alerts = detect_alerts(history)
    assert _kinds(alerts) == {(AlertKind.EXPLODING_GRADIENTS, "dense")}
    assert alerts[0].severity is Severity.CRITICAL
    assert alerts[0].epoch == 1
    assert "dense" in alerts[0].message


def test_nan_gradient_counts_as_exploding(epoch, layer):
    alerts = detect_alerts([epoch(1, layers=[layer("dense", gradient_norm=math.nan), layer("b", gradient_norm=1.0)])])
    assert _kinds(alerts) == {(AlertKind.EXPLODING_GRADIENTS, "dense")}


def test_sudden_gradient_growth_is_a_warning(epoch, layer):
    history = [epoch(1, layers=[layer("d", gradient_norm=0.02)]), epoch(2, layers=[layer("d", gradient_norm=8.0)])]
    (alert,) = detect_alerts(history)
    assert (alert.kind, alert.severity, alert.epoch) == (AlertKind.EXPLODING_GRADIENTS, Severity.WARNING, 2)
    assert "400x" in alert.message


def test_vanishing_gradients_raise_an_alert(epoch, layer):
    alerts = detect_alerts([epoch(1, layers=[layer("first", gradient_norm=1e-9), layer("last", gradient_norm=0.1)])])
    assert _kinds(alerts) == {(AlertKind.VANISHING_GRADIENTS, "first")}
    assert alerts[0].severity is Severity.WARNING
    everywhere = detect_alerts([epoch(1, layers=[layer("a", gradient_norm=1e-9), layer("b", gradient_norm=0.0)])])
    assert {a.severity for a in everywhere} == {Severity.CRITICAL}


def test_dead_and_saturated_layers(epoch, layer):
    layers = [
        layer("relu", dead_fraction=0.6),
        layer("tanh", saturated_fraction=0.95),
        layer("fine", dead_fraction=0.5, saturated_fraction=0.5),  # at the threshold: not above it
    ]
    alerts = {(a.kind, a.layer): a for a in detect_alerts([epoch(1, layers=layers)])}
    assert set(alerts) == {(AlertKind.DEAD_LAYER, "relu"), (AlertKind.SATURATED_LAYER, "tanh")}
    assert alerts[AlertKind.DEAD_LAYER, "relu"].severity is Severity.WARNING
    assert alerts[AlertKind.SATURATED_LAYER, "tanh"].severity is Severity.CRITICAL


def test_loss_growing_each_epoch_is_divergence(curve):
    alerts = detect_alerts(curve([1.0, 0.9, 0.95, 1.05], val_losses=[1.0, 0.9, 0.9, 0.9]))
    assert _kinds(alerts) == {(AlertKind.DIVERGENCE, None)}
    assert alerts[0].epoch == 4  # two consecutive rises and > 10% above the best (0.9)


def test_nan_loss_and_blowup_are_critical_divergence(curve):
    (nan,) = detect_alerts(curve([1.0, 0.8, None], val_losses=[1.0, 0.8, 0.8]))
    assert (nan.kind, nan.severity, nan.epoch) == (AlertKind.DIVERGENCE, Severity.CRITICAL, 3)
    (blowup,) = detect_alerts(curve([1.0, 0.5, 1.2], val_losses=[1.0, 0.5, 0.5]))
    assert (blowup.kind, blowup.severity) == (AlertKind.DIVERGENCE, Severity.CRITICAL)


def test_validation_loss_rising_while_training_loss_falls_is_overfitting(curve):
    history = curve([1.0, 0.6, 0.4, 0.3], val_losses=[1.0, 0.7, 0.75, 0.8])
    (alert,) = detect_alerts(history)
    assert (alert.kind, alert.epoch, alert.layer) == (AlertKind.OVERFITTING, 4, None)
    # a single rise is not yet a trend
    assert detect_alerts(history[:3]) == []


def test_accuracy_gap_is_overfitting(curve):
    (alert,) = detect_alerts(curve([1.0, 0.5], accuracies=[0.8, 0.97], val_accuracies=[0.78, 0.8]))
    assert (alert.kind, alert.epoch) == (AlertKind.OVERFITTING, 2)
    assert detect_alerts(curve([1.0, 0.5], accuracies=[0.8, 0.94], val_accuracies=[0.78, 0.8])) == []


def test_each_kind_and_layer_is_reported_once_at_its_first_epoch(epoch, layer):
    history = [epoch(i, layers=[layer("relu", dead_fraction=0.5 + 0.1 * i)]) for i in range(1, 5)]
    alerts = detect_alerts(history)
    assert len(alerts) == 1
    assert (alerts[0].kind, alerts[0].epoch) == (AlertKind.DEAD_LAYER, 1)


def test_incremental_detection_matches_one_call_at_the_end(epoch, layer):
    history = [
        epoch(1, loss=1.0, val_loss=1.0, layers=[layer("a", gradient_norm=0.1, dead_fraction=0.2)]),
        epoch(2, loss=0.7, val_loss=1.1, layers=[layer("a", gradient_norm=20.0, dead_fraction=0.7)]),
        epoch(3, loss=0.5, val_loss=1.3, layers=[layer("a", gradient_norm=5e3, dead_fraction=0.7)]),
        epoch(4, loss=1.6, val_loss=1.5, layers=[layer("a", gradient_norm=1e-8, dead_fraction=0.9)]),
    ]
    seen: dict = {}
    seen_latest: dict = {}
    for end in range(1, len(history) + 1):
        for alert in detect_alerts(history[:end]):
            seen.setdefault((alert.kind, alert.layer), alert)
        for alert in latest_alerts(history[:end]):
            seen_latest.setdefault((alert.kind, alert.layer), alert)
    final = detect_alerts(history)
    assert list(seen.values()) == final
    assert list(seen_latest.values()) == final
    assert _kinds(final) == {
        (AlertKind.EXPLODING_GRADIENTS, "a"),
        (AlertKind.DEAD_LAYER, "a"),
        (AlertKind.OVERFITTING, None),
        (AlertKind.DIVERGENCE, None),
        (AlertKind.VANISHING_GRADIENTS, "a"),
    }
