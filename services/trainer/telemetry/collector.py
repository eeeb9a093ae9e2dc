"""Builds one ``EpochTelemetry`` per epoch: the fit metrics plus per-layer gradients, activations, weights."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import SupportsFloat

import keras
import numpy as np
import numpy.typing as npt

from contracts.telemetry import EpochTelemetry, LayerTelemetry
from services.trainer.memory import rss_mb
from services.trainer.telemetry.gradients import GradientProbe
from services.trainer.telemetry.weights import weight_stats


def finite_or_none(value: SupportsFloat | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def activation_kind(layer: keras.layers.Layer) -> str | None:
    """The activation a layer's output comes from, or None when its output is not an activation."""
    if isinstance(layer, keras.layers.Activation):
        name = str(layer.get_config().get("activation", ""))
        return None if name in ("softmax", "linear") else name
    if isinstance(layer, keras.layers.LSTM | keras.layers.Bidirectional):
        return "lstm"
    return None


class TelemetryCollector:
    """Measures a model at epoch ends on a fixed probe batch; ``measure`` times itself."""

    def __init__(
        self, model: keras.Model, probe_x: npt.NDArray[np.generic], probe_y: npt.NDArray[np.int64], bins: int
    ) -> None:
        self._model = model
        self._probe_x = probe_x
        self._probe_y = probe_y
        self._bins = bins
        self._kinds = {layer.name: kind for layer in model.layers if (kind := activation_kind(layer)) is not None}
        self._probe = GradientProbe(model, self._kinds)

    def measure(
        self, epoch: int, logs: Mapping[str, float], epoch_seconds: float, samples_per_second: float
    ) -> EpochTelemetry:
        started = time.perf_counter()
        layers = self._layers() if len(self._probe_y) else []
        learning_rate = finite_or_none(np.asarray(self._model.optimizer.learning_rate))
        return EpochTelemetry(
            epoch=epoch,
            loss=finite_or_none(logs.get("loss")),
            accuracy=finite_or_none(logs.get("accuracy")),
            val_loss=finite_or_none(logs.get("val_loss")),
            val_accuracy=finite_or_none(logs.get("val_accuracy")),
            learning_rate=learning_rate,
            epoch_seconds=epoch_seconds,
            samples_per_second=samples_per_second,
            memory_rss_mb=rss_mb(),
            telemetry_seconds=time.perf_counter() - started,
            layers=layers,
        )

    def _layers(self) -> list[LayerTelemetry]:
        probe = self._probe.run(self._probe_x, self._probe_y)
        layers = []
        for layer in self._model.layers:
            kind = self._kinds.get(layer.name)
            variables = [(v.path if hasattr(v, "path") else v.name, np.asarray(v)) for v in layer.trainable_weights]
            if not variables and kind is None:
                continue
            stats = weight_stats(variables, self._bins) if variables else None
            act = probe.activations[layer.name] if kind is not None else None
            layers.append(
                LayerTelemetry(
                    name=layer.name,
                    kind=type(layer).__name__,
                    parameter_count=int(layer.count_params()) if variables else 0,
                    gradient_norm=finite_or_none(probe.gradient_norms.get(layer.name)),
                    **(vars(stats) if stats else {}),  # WeightStats' fields are LayerTelemetry's own
                    activation_mean=act.mean if act else None,
                    activation_std=act.std if act else None,
                    dead_fraction=act.dead_fraction if act else None,
                    saturated_fraction=act.saturated_fraction if act else None,
                )
            )
        return layers
