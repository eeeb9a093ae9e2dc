"""Model builders: architecture by modality, parameter errors, memory estimate."""

from __future__ import annotations

import keras
import pytest

from contracts.enums import Modality
from services.runtime.errors import TrialFailure
from services.trainer.models.builder import build_model
from services.trainer.models.params import TrialParams


def test_cnn_doubles_filters_per_block_and_ends_in_the_class_count() -> None:
    params = TrialParams({"conv_blocks": 2, "filters": 8, "dense_units": 16, "batch_norm": True, "optimizer": "sgd"})
    built = build_model(Modality.IMAGE, params, (8, 8, 1), 10)
    convs = [layer for layer in built.model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16]
    assert built.model.output_shape == (None, 10)
    assert built.architecture == "Conv2D(8)-Conv2D(16)-Dense(16)-Dense(10)"
    assert built.parameter_count == built.model.count_params() > 0
    assert built.memory_mb > 0


def test_cnn_on_tiny_images_skips_pooling_it_cannot_do() -> None:
    built = build_model(Modality.IMAGE, TrialParams({"conv_blocks": 3}), (4, 4, 1), 3)
    assert built.model.output_shape == (None, 3)


def test_lstm_stack_and_bidirectional() -> None:
    params = TrialParams({"lstm_layers": 2, "bidirectional": True, "lstm_units": 8, "sequence_length": 20})
    built = build_model(Modality.TEXT, params, (20,), 4)
    assert built.model.input_shape == (None, 20)
    assert built.architecture.startswith("Embedding(64)-BiLSTM(8)-BiLSTM(8)-Dense(32)")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"activation": "cube"}, "activation"),
        ({"filters": 0}, "filters"),
        ({"dropout": 1.5}, "dropout"),
        ({"batch_size": "many"}, "batch_size"),
    ],
)
def test_bad_parameters_fail_the_trial_with_the_parameter_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(TrialFailure, match=message):
        build_model(Modality.IMAGE, TrialParams(params), (8, 8, 1), 10)
