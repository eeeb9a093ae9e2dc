"""The plain logic behind the pages: the form's payload and checks, filters, the Pareto front, importance."""

from __future__ import annotations

import pandas as pd

from services.ui.analysis import Filters, apply_filters, importance, overfitting_gap, pareto_front, trials_frame
from services.ui.study_form import DEFAULTS, PRESETS, build_payload, objectives_for, parse_search_space, validate


def _values(**changes: object) -> dict[str, object]:
    return {**DEFAULTS, "dataset": "digits", **changes}


def test_the_payload_leaves_out_empty_fields_and_health_weight_in_simple_mode() -> None:
    assert build_payload(_values(mode="simple", seed=None, max_samples=None, study_name=" ")) == {
        "dataset": "digits",
        "mode": "simple",
        "optimize_for": "val_accuracy",
        "trials": 10,
        "max_epochs": 5,
        "parallelism": 1,
        "sampler": "tpe",
        "pruner": "median",
    }


def test_every_preset_is_a_valid_study() -> None:
    for preset in PRESETS.values():
        assert validate(_values(**preset.values)) == {}, preset.name


def test_checks_name_the_field_with_the_contracts_message() -> None:
    assert "greater than or equal to 10" in validate(_values(max_samples=5))["max_samples"][0]
    assert validate(_values(mode="simple", optimize_for="overall_health"))["optimize_for"]
    assert validate(_values(study_name="a b"))["study_name"] == ["only letters, digits and _ . - are allowed"]
    unknown = validate(_values(search_space="units_of_doom: {type: int, low: 1, high: 2}"))
    assert "unknown parameter 'units_of_doom'" in unknown["search_space"][0]


def test_search_space_text_may_be_a_mapping_or_a_list_and_bad_text_says_where() -> None:
    as_mapping, _ = parse_search_space("filters: {type: categorical, choices: [8, 16]}")
    as_list, _ = parse_search_space('[{"name": "filters", "type": "categorical", "choices": [8, 16]}]')
    assert as_mapping == as_list == [{"name": "filters", "type": "categorical", "choices": [8, 16]}]
    assert parse_search_space("a: [1,\nb: 2")[1] == "the search space is not valid YAML/JSON at line 2"
    assert parse_search_space("just text")[1] is not None


def test_objectives_follow_the_mode() -> None:
    listed = [
        {"value": "val_accuracy", "modes": ["simple", "health"]},
        {"value": "overall_health", "modes": ["health"]},
    ]
    assert objectives_for("simple", listed) == ["val_accuracy"]
    assert objectives_for("health", listed) == ["val_accuracy", "overall_health"]


def _frame() -> pd.DataFrame:
    trials = [
        {"number": 0, "state": "completed", "score": 0.5, "val_accuracy": 0.9, "overall_health": 0.2,
         "params": {"filters": 8, "optimizer": "adam"}},
        {"number": 1, "state": "completed", "score": 0.7, "val_accuracy": 0.7, "overall_health": 0.7,
         "params": {"filters": 16, "optimizer": "sgd"}},
        {"number": 2, "state": "completed", "score": 0.6, "val_accuracy": 0.6, "overall_health": 0.6,
         "params": {"filters": 16, "optimizer": "adam"}},
        {"number": 3, "state": "pruned", "score": None, "val_accuracy": 0.3, "overall_health": None,
         "params": {"filters": 32, "optimizer": "sgd"}},
    ]  # fmt: skip
    return trials_frame(trials)


def test_filters_narrow_by_state_range_and_parameter_and_sort() -> None:
    frame = _frame()
    shown = apply_filters(frame, Filters(states=["completed"], sort_by="score", descending=True))
    assert list(shown["number"]) == [1, 2, 0]
    assert list(apply_filters(frame, Filters(score=(0.55, 1.0)))["number"]) == [1, 2]
    assert list(apply_filters(frame, Filters(params={"param_optimizer": ["sgd"]}))["number"]) == [1, 3]


def test_the_pareto_front_keeps_only_undominated_trials() -> None:
    front = pareto_front(_frame(), "val_accuracy", "overall_health")
    assert list(front["number"]) == [1, 0]  # trial 2 is beaten on both by trial 1


def test_importance_ranks_the_parameter_that_goes_with_the_score_first() -> None:
    weights = importance(_frame())
    assert set(weights.index) == {"filters", "optimizer"}
    assert abs(weights.sum() - 1) < 1e-9


def test_overfitting_spans_are_epochs_where_val_loss_rises_as_loss_falls() -> None:
    epochs = [
        {"epoch": 1, "loss": 1.0, "val_loss": 1.0},
        {"epoch": 2, "loss": 0.8, "val_loss": 0.9},
        {"epoch": 3, "loss": 0.6, "val_loss": 1.0},
        {"epoch": 4, "loss": 0.5, "val_loss": 1.2},
        {"epoch": 5, "loss": 0.6, "val_loss": 1.3},
    ]
    assert overfitting_gap(epochs) == [(2, 4)]
