"""The text classifier: embedding, ``lstm_layers`` (optionally bidirectional) LSTMs, one hidden dense layer.

Sequences arrive pre-padded with 0 and clipped to ``vocab_size`` by the input pipeline.
"""

from __future__ import annotations

import keras

from services.trainer.models.params import TrialParams


def build_lstm(params: TrialParams, num_classes: int) -> keras.Model:
    vocab_size = params.integer("vocab_size", 10000, minimum=3)
    sequence_length = params.integer("sequence_length", 128)
    embedding_dim = params.integer("embedding_dim", 64)
    units = params.integer("lstm_units", 32)
    layers = params.integer("lstm_layers", 1)
    bidirectional = params.flag("bidirectional", False)
    dropout = params.number("dropout", 0.2, low=0.0, high=0.95)
    dense_units = params.integer("dense_units", 32)

    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
    for index in range(1, layers + 1):
        recurrent = keras.layers.LSTM(units, return_sequences=index < layers, name=f"lstm{index}")
        x = keras.layers.Bidirectional(recurrent, name=f"bilstm{index}")(x) if bidirectional else recurrent(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"lstm{index}_dropout")(x)
    x = keras.layers.Dense(dense_units, name="dense")(x)
    x = keras.layers.Activation("relu", name="dense_act")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="lstm")
