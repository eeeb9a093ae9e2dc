"""Telemetry measured on real Keras models with constructed pathologies."""

from __future__ import annotations

import keras
import numpy as np

from services.trainer.telemetry.collector import TelemetryCollector


def _model(bias: float) -> keras.Model:
    inputs = keras.Input(shape=(6,))
    x = keras.layers.Dense(12, bias_initializer=keras.initializers.Constant(bias), name="hidden")(inputs)
    x = keras.layers.Activation("relu", name="hidden_act")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _probe() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(64, 6)).astype(np.float32), rng.integers(0, 3, size=64)


def test_all_dead_relu_layer_is_measured_dead_with_no_gradient() -> None:
    x, y = _probe()
    collector = TelemetryCollector(_model(bias=-100.0), x, y, bins=5)
    telemetry = collector.measure(1, {"loss": 1.0, "accuracy": 0.3, "val_loss": 1.1, "val_accuracy": 0.3}, 2.0, 320.0)
    layers = {layer.name: layer for layer in telemetry.layers}
    assert layers["hidden_act"].dead_fraction == 1.0
    assert layers["hidden"].gradient_norm == 0.0
    assert layers["classifier"].gradient_norm is not None and layers["classifier"].gradient_norm > 0
    assert telemetry.samples_per_second == 320.0
    assert telemetry.telemetry_seconds > 0


def test_healthy_layer_has_live_units_weights_and_histograms() -> None:
    x, y = _probe()
    telemetry = TelemetryCollector(_model(bias=0.1), x, y, bins=5).measure(2, {"loss": 1.0}, 1.0, 10)
    hidden = next(layer for layer in telemetry.layers if layer.name == "hidden")
    act = next(layer for layer in telemetry.layers if layer.name == "hidden_act")
    assert act.dead_fraction is not None and act.dead_fraction < 0.5
    assert hidden.parameter_count == 6 * 12 + 12
    assert hidden.weight_histogram is not None and sum(hidden.weight_histogram.counts) == 72
    assert hidden.bias_mean is not None and abs(hidden.bias_mean - 0.1) < 1e-6
    assert telemetry.val_loss is None  # not in the logs


def test_nan_losses_are_reported_as_missing() -> None:
    x, y = _probe()
    telemetry = TelemetryCollector(_model(bias=0.0), x, y, bins=5).measure(1, {"loss": float("nan")}, 1.0, 10)
    assert telemetry.loss is None
