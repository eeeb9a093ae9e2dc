"""StudyConfig: defaults, and every rule that turns a bad request into one clear error."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.enums import (
    DATASET_MODALITY,
    HEALTH_ONLY_OBJECTIVES,
    DatasetName,
    Modality,
    Mode,
    Objective,
    PrunerName,
    SamplerName,
)
from contracts.search_space import CNN_SEARCH_SPACE, LSTM_SEARCH_SPACE, ParamSpec
from contracts.study import DEFAULT_HEALTH_WEIGHT, StudyConfig

SCORE_OBJECTIVES = [o for o in Objective if o not in HEALTH_ONLY_OBJECTIVES]


def _error(**fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        StudyConfig(**fields)
    return str(info.value)


def _model_error_message(**fields: Any) -> str:
    """The message of the one model-level error, without pydantic's input echo."""
    with pytest.raises(ValidationError) as info:
        StudyConfig(**fields)
    (error,) = info.value.errors()
    return str(error["msg"])


def test_defaults() -> None:
    config = StudyConfig(dataset="digits")
    assert config.dataset is DatasetName.DIGITS
    assert config.mode is Mode.HEALTH
    assert config.optimize_for is Objective.VAL_ACCURACY
    assert config.health_weight == DEFAULT_HEALTH_WEIGHT == 0.3
    assert config.trials == 10
    assert config.parallelism == 1
    assert config.sampler is SamplerName.TPE
    assert config.pruner is PrunerName.MEDIAN
    assert config.search_space == []
    assert config.modality is Modality.IMAGE


def test_dataset_is_required() -> None:
    assert "dataset" in _error()


@pytest.mark.parametrize("objective", sorted(HEALTH_ONLY_OBJECTIVES))
def test_health_only_objective_in_simple_mode_names_the_allowed_objectives(objective: Objective) -> None:
    message = _model_error_message(dataset="digits", mode="simple", optimize_for=objective)
    assert objective.value in message
    assert "mode=health" in message
    allowed = message.split("choose one of:", 1)[1]
    for score_objective in SCORE_OBJECTIVES:
        assert score_objective.value in allowed
    for health_objective in HEALTH_ONLY_OBJECTIVES:
        assert health_objective.value not in allowed


@pytest.mark.parametrize("objective", sorted(HEALTH_ONLY_OBJECTIVES))
def test_health_only_objective_is_fine_in_health_mode(objective: Objective) -> None:
    assert StudyConfig(dataset="digits", mode="health", optimize_for=objective).optimize_for is objective


@pytest.mark.parametrize("objective", SCORE_OBJECTIVES)
@pytest.mark.parametrize("mode", list(Mode))
def test_score_objectives_are_fine_in_both_modes(objective: Objective, mode: Mode) -> None:
    StudyConfig(dataset="digits", mode=mode, optimize_for=objective)


@pytest.mark.parametrize("weight", [-0.01, 1.01, 2, -1])
def test_health_weight_outside_zero_one_is_rejected(weight: float) -> None:
    assert "health_weight" in _error(dataset="digits", health_weight=weight)


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_health_weight_bounds_are_inclusive(weight: float) -> None:
    assert StudyConfig(dataset="digits", health_weight=weight).health_weight == weight


@pytest.mark.parametrize("trials", [0, -3])
def test_fewer_than_one_trial_is_rejected(trials: int) -> None:
    assert "trials" in _error(dataset="digits", trials=trials)


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_epochs", 0), ("parallelism", 0), ("max_samples", 9), ("max_retries", -1), ("trials", 10_001)],
)
def test_other_numeric_bounds(field: str, value: int) -> None:
    assert field in _error(dataset="digits", **{field: value})


@pytest.mark.parametrize("dataset", ["image_folder", "text_csv"])
def test_user_data_needs_data_dir(dataset: str) -> None:
    message = _model_error_message(dataset=dataset)
    assert dataset in message
    assert "data_dir" in message
    assert _error(dataset=dataset, data_dir="")
    assert StudyConfig(dataset=dataset, data_dir="/data/mine").data_dir == "/data/mine"


@pytest.mark.parametrize("dataset", ["svhn", "MNIST", ""])
def test_unknown_dataset_is_rejected_with_the_known_ones(dataset: str) -> None:
    message = _error(dataset=dataset)
    assert "dataset" in message
    assert "'mnist'" in message
    assert "'digits'" in message


@pytest.mark.parametrize("field", ["sampler", "pruner", "mode", "optimize_for"])
def test_unknown_enum_values_are_rejected(field: str) -> None:
    assert field in _error(dataset="digits", **{field: "nonsense"})


def test_unknown_fields_are_rejected() -> None:
    assert "epochs" in _error(dataset="digits", epochs=3)


@pytest.mark.parametrize("dataset", list(DatasetName))
def test_every_dataset_has_a_modality_and_a_search_space(dataset: DatasetName) -> None:
    config = StudyConfig(dataset=dataset, data_dir="/d")
    assert config.modality is DATASET_MODALITY[dataset]
    expected = CNN_SEARCH_SPACE if config.modality is Modality.IMAGE else LSTM_SEARCH_SPACE
    assert config.effective_search_space() == expected


def test_effective_search_space_applies_overrides() -> None:
    override = ParamSpec(name="dropout", type="float", low=0.1, high=0.2)
    config = StudyConfig(dataset="imdb", search_space=[override])
    space = config.effective_search_space()
    assert space.names() == LSTM_SEARCH_SPACE.names()
    assert next(p for p in space.params if p.name == "dropout") == override


def test_a_parameter_the_model_builder_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown parameter 'warmup' for text models; known: embedding_dim"):
        StudyConfig(dataset="imdb", search_space=[ParamSpec(name="warmup", type="int", low=0, high=3)])


def test_study_config_round_trips_through_json() -> None:
    config = StudyConfig(
        dataset="cifar10",
        mode="simple",
        optimize_for="training_time",
        trials=3,
        seed=1,
        search_space=[ParamSpec(name="filters", type="categorical", choices=[8, 16])],
    )
    assert StudyConfig.model_validate_json(config.model_dump_json()) == config


def test_pareto_mode_takes_health_objectives_and_refuses_cmaes() -> None:
    from contracts.enums import PrunerName

    assert StudyConfig(dataset="digits", mode="pareto", optimize_for="overall_health").mode == "pareto"
    with pytest.raises(ValidationError, match="sampler=cmaes cannot optimize two objectives"):
        StudyConfig(dataset="digits", mode="pareto", sampler="cmaes")
    with pytest.raises(ValidationError, match="needs mode=health or pareto"):
        StudyConfig(dataset="digits", mode="simple", optimize_for="overall_health")
    health = StudyConfig(dataset="digits", pruner="median+health").pruner
    assert health is PrunerName.MEDIAN_HEALTH and health.uses_health and health.optuna_pruner is PrunerName.MEDIAN
    assert PrunerName.HEALTH.optuna_pruner is PrunerName.NONE and not PrunerName.MEDIAN.uses_health
