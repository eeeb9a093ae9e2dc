"""Loss gradients on a probe batch, with the activation taps read in the same forward pass.

The gradient norm of a layer is the L2 norm of d(loss)/d(w) over all of the layer's trainable
weights, computed in inference mode (no dropout, batch-norm moving statistics) on a fixed batch
of validation samples, so that epochs are comparable.

The whole probe (forward pass, gradients, per-layer norms and the per-unit reductions of the tapped
activations) is one ``tf.function``, traced once per model at its first epoch end: run eagerly, it
dispatched a few hundred small ops from Python and copied every tapped activation to NumPy, and on a
busy machine each of those waits for a core (py-spy: two thirds of the probe's time was Keras' eager
layer calls and the gradient tape, a fifth NumPy reductions over the activations). Only small tensors
leave the graph: one norm per layer and one value per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from services.trainer.telemetry.activations import (
    SATURATION_MARGIN,
    SIGMOID_LIKE,
    TANH_LIKE,
    ActivationStats,
    UnitSummary,
    stats_from_summary,
)


@dataclass(frozen=True)
class ProbeResult:
    loss: float
    gradient_norms: dict[str, float]
    activations: dict[str, ActivationStats]


def summarize_tensor(kind: str, outputs: tf.Tensor) -> dict[str, tf.Tensor]:
    """``activations.summarize`` in TensorFlow ops: the per-unit reductions of one layer's outputs."""
    per_unit = tf.reshape(tf.cast(outputs, tf.float32), [-1, tf.shape(outputs)[-1]])
    summary = {
        "mean": tf.reduce_mean(per_unit),
        "std": tf.math.reduce_std(per_unit),
        "unit_max": tf.reduce_max(per_unit, axis=0),
        "unit_abs_max": tf.reduce_max(tf.abs(per_unit), axis=0),
    }
    if kind in TANH_LIKE:
        pinned = tf.abs(per_unit) > 1 - SATURATION_MARGIN
        summary["unit_pinned_share"] = tf.reduce_mean(tf.cast(pinned, tf.float32), axis=0)
    elif kind in SIGMOID_LIKE:
        pinned = tf.logical_or(per_unit < SATURATION_MARGIN, per_unit > 1 - SATURATION_MARGIN)
        summary["unit_pinned_share"] = tf.reduce_mean(tf.cast(pinned, tf.float32), axis=0)
    return summary


def to_summary(values: dict[str, Any]) -> UnitSummary:
    pinned = values.get("unit_pinned_share")
    return UnitSummary(
        mean=float(values["mean"]),
        std=float(values["std"]),
        unit_max=np.asarray(values["unit_max"]),
        unit_abs_max=np.asarray(values["unit_abs_max"]),
        unit_pinned_share=np.asarray(pinned) if pinned is not None else None,
    )


class GradientProbe:
    """Wraps a model so that one call yields per-layer gradient norms and the tapped layers' statistics.

    ``kinds``: the activation kind of each tapped layer, by layer name (``collector.activation_kind``).
    """

    def __init__(self, model: keras.Model, kinds: dict[str, str]) -> None:
        self._model = model
        self._tapped = [layer for layer in model.layers if layer.name in kinds]
        self._kinds = kinds
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        self._taps = keras.Model(inputs, [model.outputs[0], *(layer.output for layer in self._tapped)])
        self._loss = keras.losses.SparseCategoricalCrossentropy()
        self._weighted = [layer for layer in model.layers if layer.trainable_weights]
        self._normed: list[str] = []  # the layers with a gradient, in the order of the norms (set when traced)
        self._function = tf.function(self._probe, autograph=False)
        self._step: Any = None  # the concrete function, traced at the first run (called directly: no retrace check)

    def _probe(self, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, list[dict[str, tf.Tensor]]]:
        variables = [v for layer in self._weighted for v in layer.trainable_weights]
        with tf.GradientTape() as tape:
            outputs = self._taps(x, training=False)
            loss = self._loss(y, outputs[0])
        gradients = tape.gradient(loss, variables)
        norms, normed, position = [], [], 0
        for layer in self._weighted:
            count = len(layer.trainable_weights)
            layer_gradients = [g for g in gradients[position : position + count] if g is not None]
            position += count
            if layer_gradients:
                norms.append(tf.linalg.global_norm(layer_gradients))
                normed.append(layer.name)
        self._normed = normed
        summaries = [
            summarize_tensor(self._kinds[layer.name], out) for layer, out in zip(self._tapped, outputs[1:], strict=True)
        ]
        stacked = tf.stack(norms) if norms else tf.zeros([0], tf.float32)
        return loss, stacked, summaries

    def run(self, x: npt.NDArray[np.generic], y: npt.NDArray[np.int64]) -> ProbeResult:
        inputs = (tf.convert_to_tensor(x), tf.convert_to_tensor(y))
        if self._step is None:  # one trace per model; a new model per trial is no "retracing"
            self._step = self._function.get_concrete_function(*inputs)
        loss, norms, summaries = self._step(*inputs)
        values = norms.numpy()
        gradient_norms = {name: float(value) for name, value in zip(self._normed, values, strict=True)}
        activations = {
            layer.name: stats_from_summary(self._kinds[layer.name], to_summary({k: v.numpy() for k, v in s.items()}))
            for layer, s in zip(self._tapped, summaries, strict=True)
        }
        return ProbeResult(loss=float(loss.numpy()), gradient_norms=gradient_norms, activations=activations)
