"""Builds and compiles the model for a trial: CNN for images, LSTM for text."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from contracts.architecture import LayerSpec
from contracts.enums import Modality
from services.trainer.models.cnn import build_cnn
from services.trainer.models.layers import describe_layers
from services.trainer.models.lstm import build_lstm
from services.trainer.models.params import TrialParams

OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "nadam")
# Per-parameter state each optimizer keeps (for the memory estimate).
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "rmsprop": 1, "sgd": 1}


@dataclass(frozen=True)
class BuiltModel:
    model: keras.Model
    architecture: str
    parameter_count: int
    memory_mb: float
    layers: tuple[LayerSpec, ...] = ()


def build_model(modality: Modality, params: TrialParams, input_shape: tuple[int, ...], num_classes: int) -> BuiltModel:
    """Build, compile and describe the model; parameter problems raise ``TrialFailure``."""
    model = (
        build_cnn(params, input_shape, num_classes) if modality is Modality.IMAGE else build_lstm(params, num_classes)
    )
    optimizer_name = params.choice("optimizer", "adam", OPTIMIZERS)
    learning_rate = params.number("learning_rate", 1e-3, low=1e-7, high=10.0)
    optimizer = _optimizer(optimizer_name, learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    parameter_count = int(model.count_params())
    batch_size = params.integer("batch_size", 32)
    return BuiltModel(
        model=model,
        architecture=describe(model),
        parameter_count=parameter_count,
        memory_mb=estimate_memory_mb(model, OPTIMIZER_SLOTS[optimizer_name], batch_size),
        layers=tuple(describe_layers(model)),
    )


def _optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    factories = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "nadam": keras.optimizers.Nadam,
        "rmsprop": keras.optimizers.RMSprop,
    }
    return factories[name](learning_rate=learning_rate)


def describe(model: keras.Model) -> str:
    """A one-line summary of the trainable layers, e.g. ``Conv2D(32)-Conv2D(64)-Dense(64)-Dense(10)``."""
    parts = []
    for layer in model.layers:
        if not layer.trainable_weights or isinstance(layer, keras.layers.BatchNormalization):
            continue
        width = getattr(layer, "filters", None) or getattr(layer, "units", None) or getattr(layer, "output_dim", None)
        if isinstance(layer, keras.layers.Bidirectional):
            parts.append(f"BiLSTM({layer.forward_layer.units})")
        else:
            parts.append(f"{type(layer).__name__}({width})" if width else type(layer).__name__)
    return "-".join(parts)


def estimate_memory_mb(model: keras.Model, optimizer_slots: int, batch_size: int) -> float:
    """Weights + gradients + optimizer slots, plus one batch of every layer's activations (float32)."""
    weights = model.count_params() * (2 + optimizer_slots)
    activations = 0
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        dims = getattr(shape, "shape", None)
        if not dims:
            continue
        per_sample = 1
        for dim in dims[1:]:
            per_sample *= int(dim or 1)
        activations += per_sample
    return (weights + activations * batch_size) * 4 / 2**20
