"""The built model as a list of ``LayerSpec`` (what the control panel's architecture view draws)."""

from __future__ import annotations

from typing import Any

import keras

from contracts.architecture import LAYERS_MAX, LayerSpec


def describe_layers(model: keras.Model) -> list[LayerSpec]:
    """Every layer but the input, in order, with its output shape, width, activation and parameters."""
    specs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        specs.append(_spec(layer))
    return specs[:LAYERS_MAX]


def _spec(layer: keras.layers.Layer) -> LayerSpec:
    inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    filters = getattr(inner, "filters", None)
    units = filters or getattr(inner, "units", None) or getattr(inner, "output_dim", None)
    if isinstance(layer, keras.layers.Bidirectional) and units:
        units = 2 * int(units)
    return LayerSpec(
        name=layer.name[:128],
        kind=type(layer).__name__,
        output_shape=_shape(layer),
        units=int(units) if units else None,
        filters=int(filters) if filters else None,
        activation=_activation(inner),
        parameter_count=int(layer.count_params()),
        detail=(type(inner).__name__ if inner is not layer else _detail(layer))[:128],
    )


def _shape(layer: keras.layers.Layer) -> list[int | None]:
    output = getattr(layer, "output", None)
    shape = getattr(output, "shape", None)
    if shape is None:
        return []
    return [int(dim) if dim is not None else None for dim in tuple(shape)[1:]][:8]


def _activation(layer: keras.layers.Layer) -> str | None:
    activation: Any = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or str(activation)
    return None if name == "linear" else str(name)[:128]


def _detail(layer: keras.layers.Layer) -> str:
    for attribute, label in (("kernel_size", "kernel"), ("pool_size", "pool"), ("rate", "rate")):
        value = getattr(layer, attribute, None)
        if value is not None:
            text = "x".join(str(v) for v in value) if isinstance(value, tuple | list) else f"{value:g}"
            return f"{label} {text}"
    if isinstance(layer, keras.layers.Embedding):
        return f"vocab {layer.input_dim}"
    return ""
