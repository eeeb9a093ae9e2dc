"""Loss gradients on a probe batch, with the activation taps read in the same forward pass.

The gradient norm of a layer is the L2 norm of d(loss)/d(w) over all of the layer's trainable
weights, computed in inference mode (no dropout, batch-norm moving statistics) on a fixed batch
of validation samples, so that epochs are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf


@dataclass(frozen=True)
class ProbeResult:
    loss: float
    gradient_norms: dict[str, float]
    activations: dict[str, npt.NDArray[np.floating]]


class GradientProbe:
    """Wraps a model so that one call yields per-layer gradient norms and the tapped layer outputs."""

    def __init__(self, model: keras.Model, tapped: list[keras.layers.Layer]) -> None:
        self._model = model
        self._tapped = tapped
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        self._taps = keras.Model(inputs, [model.outputs[0], *(layer.output for layer in tapped)])
        self._loss = keras.losses.SparseCategoricalCrossentropy()
        self._weighted = [layer for layer in model.layers if layer.trainable_weights]

    def run(self, x: npt.NDArray[np.generic], y: npt.NDArray[np.int64]) -> ProbeResult:
        variables = [v for layer in self._weighted for v in layer.trainable_weights]
        with tf.GradientTape() as tape:
            outputs = self._taps(x, training=False)
            loss = self._loss(y, outputs[0])
        gradients = tape.gradient(loss, variables)
        norms: dict[str, float] = {}
        position = 0
        for layer in self._weighted:
            count = len(layer.trainable_weights)
            layer_gradients = [g for g in gradients[position : position + count] if g is not None]
            position += count
            if layer_gradients:
                norms[layer.name] = float(tf.linalg.global_norm(layer_gradients).numpy())
        activations = {layer.name: np.asarray(out) for layer, out in zip(self._tapped, outputs[1:], strict=True)}
        return ProbeResult(loss=float(loss.numpy()), gradient_norms=norms, activations=activations)
