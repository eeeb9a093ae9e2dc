"""The image classifier: ``conv_blocks`` convolution blocks, then one hidden dense layer.

Each block is Conv2D -> (BatchNorm) -> Activation -> (Pooling) -> (Dropout), with the filter count
doubling per block. Activations are separate, named ``*_act`` layers so that telemetry can measure
dead and saturated units on exactly the activation outputs.
"""

from __future__ import annotations

import keras

from services.trainer.models.params import TrialParams

ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "selu", "gelu")
POOLINGS = ("max", "average", "none")


def build_cnn(params: TrialParams, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    blocks = params.integer("conv_blocks", 2)
    filters = params.integer("filters", 32)
    kernel_size = params.integer("kernel_size", 3)
    pooling = params.choice("pooling", "max", POOLINGS)
    batch_norm = params.flag("batch_norm", False)
    dropout = params.number("dropout", 0.2, low=0.0, high=0.95)
    dense_units = params.integer("dense_units", 64)
    activation = params.choice("activation", "relu", ACTIVATIONS)
    augmentation = params.flag("augmentation", False)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if augmentation:
        x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="augment_shift")(x)
        x = keras.layers.RandomZoom(0.1, fill_mode="constant", name="augment_zoom")(x)
    for block in range(1, blocks + 1):
        x = keras.layers.Conv2D(
            filters * 2 ** (block - 1), kernel_size, padding="same", use_bias=not batch_norm, name=f"conv{block}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"conv{block}_bn")(x)
        x = keras.layers.Activation(activation, name=f"conv{block}_act")(x)
        height, width = x.shape[1], x.shape[2]
        if pooling != "none" and height is not None and width is not None and height >= 2 and width >= 2:
            pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
            x = pool(2, name=f"conv{block}_pool")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout / 2, name=f"conv{block}_dropout")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x) if blocks >= 3 else keras.layers.Flatten()(x)
    x = keras.layers.Dense(dense_units, name="dense")(x)
    x = keras.layers.Activation(activation, name="dense_act")(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="dense_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="cnn")
