"""The built model as a layer list: weightless layers included, widths, shapes, activations, parameters."""

from __future__ import annotations

from contracts.enums import Modality
from services.trainer.models.builder import build_model
from services.trainer.models.params import TrialParams


def test_a_cnn_lists_every_layer_with_shapes_widths_and_parameters() -> None:
    params = TrialParams({"conv_blocks": 2, "filters": 8, "dense_units": 16, "dropout": 0.2, "pooling": "max"})
    built = build_model(Modality.IMAGE, params, (8, 8, 1), 10)
    layers = {layer.name: layer for layer in built.layers}
    kinds = [layer.kind for layer in built.layers]
    for kind in ("Conv2D", "Activation", "MaxPooling2D", "Dropout", "Flatten", "Dense"):
        assert kind in kinds
    assert layers["conv1"].filters == layers["conv1"].units == 8
    assert layers["conv1"].output_shape == [8, 8, 8]
    assert layers["conv1"].detail == "kernel 3x3"
    assert layers["classifier"].activation == "softmax"
    assert layers["classifier"].output_shape == [10]
    assert sum(layer.parameter_count for layer in built.layers) == built.parameter_count
    pooling = next(layer for layer in built.layers if layer.kind == "MaxPooling2D")
    assert pooling.parameter_count == 0
    assert pooling.detail.startswith("pool ")


def test_an_lstm_lists_its_embedding_and_recurrent_layers() -> None:
    params = TrialParams({"lstm_layers": 2, "bidirectional": True, "lstm_units": 8, "sequence_length": 20})
    built = build_model(Modality.TEXT, params, (20,), 4)
    kinds = [layer.kind for layer in built.layers]
    assert [kind for kind in kinds if kind != "Dropout"][:3] == ["Embedding", "Bidirectional", "Bidirectional"]
    embedding, first = built.layers[0], built.layers[1]
    assert embedding.units == 64
    assert embedding.detail.startswith("vocab ")
    assert first.units == 16  # both directions
    assert first.output_shape == [20, 16]
    assert first.activation == "tanh"
    assert first.detail == "LSTM"
