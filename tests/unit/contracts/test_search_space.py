"""Search spaces: the shape rules of a parameter spec, unique names, overrides, the defaults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.enums import Modality, ParamType
from contracts.search_space import (
    CNN_SEARCH_SPACE,
    DEFAULT_SEARCH_SPACES,
    LSTM_SEARCH_SPACE,
    ParamSpec,
    SearchSpace,
)


def _spec_error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        ParamSpec(**fields)
    return str(info.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"type": "categorical"}, "non-empty 'choices'", id="categorical-without-choices"),
        pytest.param({"type": "categorical", "choices": []}, "non-empty 'choices'", id="categorical-empty"),
        pytest.param({"type": "int", "low": 1}, "needs 'low' and 'high'", id="int-without-high"),
        pytest.param({"type": "float", "high": 1.0}, "needs 'low' and 'high'", id="float-without-low"),
        pytest.param({"type": "int", "low": 5, "high": 1}, "above high", id="low-above-high"),
        pytest.param({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale", id="log-from-zero"),
        pytest.param({"type": "float", "low": -1.0, "high": 1.0, "log": True}, "log scale", id="log-negative"),
        pytest.param({"type": "boolean", "choices": [True]}, "type", id="unknown-type"),
        pytest.param({"type": "int", "low": 1, "high": 2, "scale": "x"}, "scale", id="unknown-field"),
    ],
)
def test_param_spec_rejects_bad_shapes(fields: dict[str, Any], expected: str) -> None:
    message = _spec_error(name="p", **fields)
    assert expected in message


def test_param_spec_names_the_parameter_in_its_errors() -> None:
    assert "'units'" in _spec_error(name="units", type="int", low=9, high=1)


def test_param_spec_needs_a_name() -> None:
    assert "name" in _spec_error(name="", type="int", low=1, high=2)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "int", "low": 1, "high": 1},
        {"type": "int", "low": 1, "high": 8, "step": 1},
        {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        {"type": "categorical", "choices": ["relu", 3, 0.5, True]},
    ],
)
def test_param_spec_accepts_valid_shapes(fields: dict[str, Any]) -> None:
    spec = ParamSpec(name="p", **fields)
    assert spec.type is ParamType(fields["type"])


def test_categorical_choices_keep_their_types() -> None:
    spec = ParamSpec.model_validate_json('{"name": "c", "type": "categorical", "choices": [true, 32, 0.5, "max"]}')
    assert spec.choices == [True, 32, 0.5, "max"]
    assert [type(c) for c in spec.choices] == [bool, int, float, str]


def test_search_space_rejects_duplicate_names() -> None:
    a = ParamSpec(name="a", type="int", low=1, high=2)
    b = ParamSpec(name="b", type="int", low=1, high=2)
    with pytest.raises(ValidationError) as info:
        SearchSpace(params=[a, b, a, b, a])
    assert "a, b" in str(info.value)


def test_with_overrides_replaces_in_place_and_appends_new_ones() -> None:
    base = SearchSpace(
        params=[
            ParamSpec(name="a", type="int", low=1, high=2),
            ParamSpec(name="b", type="int", low=1, high=2),
            ParamSpec(name="c", type="int", low=1, high=2),
        ]
    )
    new_b = ParamSpec(name="b", type="categorical", choices=[4, 8])
    z = ParamSpec(name="z", type="float", low=0.0, high=1.0)
    y = ParamSpec(name="y", type="float", low=0.0, high=1.0)

    merged = base.with_overrides([z, new_b, y])

    assert merged.names() == ["a", "b", "c", "z", "y"]
    assert merged.params[1] == new_b
    assert base.names() == ["a", "b", "c"]
    assert base.params[1].type is ParamType.INT
    assert base.with_overrides([]) == base


def test_default_spaces_cover_every_modality() -> None:
    assert set(DEFAULT_SEARCH_SPACES) == set(Modality)
    assert DEFAULT_SEARCH_SPACES[Modality.IMAGE] is CNN_SEARCH_SPACE
    assert DEFAULT_SEARCH_SPACES[Modality.TEXT] is LSTM_SEARCH_SPACE


def test_cnn_space_has_the_designed_parameters() -> None:
    assert set(CNN_SEARCH_SPACE.names()) == {
        "conv_blocks",
        "filters",
        "kernel_size",
        "pooling",
        "batch_norm",
        "dropout",
        "dense_units",
        "activation",
        "optimizer",
        "learning_rate",
        "batch_size",
        "augmentation",
    }


def test_lstm_space_has_the_designed_parameters() -> None:
    assert set(LSTM_SEARCH_SPACE.names()) == {
        "embedding_dim",
        "lstm_units",
        "lstm_layers",
        "bidirectional",
        "dropout",
        "dense_units",
        "optimizer",
        "learning_rate",
        "batch_size",
        "sequence_length",
        "vocab_size",
    }


@pytest.mark.parametrize("space", [CNN_SEARCH_SPACE, LSTM_SEARCH_SPACE], ids=["cnn", "lstm"])
def test_learning_rate_is_log_scaled(space: SearchSpace) -> None:
    spec = next(p for p in space.params if p.name == "learning_rate")
    assert spec.log
    assert spec.low is not None and spec.low > 0


def test_search_space_round_trips_through_json() -> None:
    assert SearchSpace.model_validate_json(CNN_SEARCH_SPACE.model_dump_json()) == CNN_SEARCH_SPACE
