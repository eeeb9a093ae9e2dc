"""A trial's network as data: one ``LayerSpec`` per Keras layer, in order (the UI draws it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LAYERS_MAX = 200
"""Layers listed at most (the models we build have a few dozen)."""

LayerName = Annotated[str, StringConstraints(max_length=128)]


class LayerSpec(BaseModel):
    """One layer of the built model, weightless ones (pooling, flatten, dropout, activation) included."""

    model_config = ConfigDict(frozen=True)

    name: LayerName
    kind: LayerName = Field(description="Keras layer class name, e.g. Conv2D, MaxPooling2D, Flatten, LSTM.")
    output_shape: list[int | None] = Field(
        default_factory=list, max_length=8, description="Output shape without the batch axis (None: variable)."
    )
    units: int | None = Field(default=None, description="Dense/recurrent units, embedding size or conv filters.")
    filters: int | None = Field(default=None, description="Convolution filters (Conv layers only).")
    activation: LayerName | None = Field(default=None, description="Activation function, when the layer has one.")
    parameter_count: int = 0
    detail: LayerName = Field(default="", description="Kind-specific settings: kernel, pool size, rate, ...")


Layers = Annotated[list[LayerSpec], Field(max_length=LAYERS_MAX)]
