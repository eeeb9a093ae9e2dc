"""Optuna ask/tell logic without any transport, for every sampler."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from contracts.enums import PrunerName, SamplerName
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from services.runtime.errors import UserInputError
from services.scheduler.search_space import grid_values
from services.scheduler.study_runner import StudyRunner

SAMPLERS = [s for s in SamplerName if s is not SamplerName.GP or importlib.util.find_spec("torch")]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_asks_values_inside_the_space_and_learns(sampler: SamplerName, tmp_path: Path) -> None:
    config = StudyConfig(
        dataset="text_csv", data_dir="x.csv", sampler=sampler, seed=3, trials=8, pruner=PrunerName.NONE
    )
    runner = StudyRunner("s", config, f"sqlite:///{tmp_path / 'o.sqlite'}")
    space = {p.name: p for p in config.effective_search_space().params}
    for i in range(7):
        asked = runner.ask()
        for name, value in asked.params.items():
            spec = space[name]
            if spec.choices is not None:
                assert value in spec.choices
            else:
                assert spec.low is not None and spec.high is not None
                assert spec.low <= value <= spec.high
        runner.tell_completed(asked.number, float(asked.params["learning_rate"]) + i * 1e-6)
    best = runner.best()
    assert best is not None
    assert best.value == max(t.value for t in runner.study.trials if t.value is not None)
    assert runner.running_numbers() == []


def test_retry_replays_the_same_params(tmp_path: Path) -> None:
    runner = StudyRunner("s", StudyConfig(dataset="digits", seed=1), f"sqlite:///{tmp_path / 'o.sqlite'}")
    first = runner.ask()
    runner.tell_failed(first.number, "lost")
    again = runner.ask(first.params)
    assert again.params == first.params and again.number != first.number
    assert runner.study.trials[first.number].user_attrs["fail_reason"] == "lost"


def test_runner_resumes_a_study_from_storage(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'o.sqlite'}"
    config = StudyConfig(dataset="digits", seed=1)
    runner = StudyRunner("s", config, storage)
    asked = runner.ask()
    resumed = StudyRunner("s", config, storage)
    resumed.tell_completed(asked.number, 0.5)
    best = resumed.best()
    assert best is not None and best.number == asked.number


def test_search_space_override_changes_what_is_sampled(tmp_path: Path) -> None:
    override = ParamSpec(name="batch_size", type="categorical", choices=[16])
    config = StudyConfig(dataset="digits", seed=1, search_space=[override])
    runner = StudyRunner("s", config, f"sqlite:///{tmp_path / 'o.sqlite'}")
    assert {runner.ask().params["batch_size"] for _ in range(4)} == {16}


def test_grid_values_cover_choices_ints_and_floats() -> None:
    assert grid_values(ParamSpec(name="a", type="categorical", choices=[1, 2])) == [1, 2]
    assert grid_values(ParamSpec(name="b", type="int", low=1, high=3)) == [1, 2, 3]
    log_points = grid_values(ParamSpec(name="c", type="float", low=1e-4, high=1e-2, log=True))
    assert log_points == pytest.approx([1e-4, 1e-3, 1e-2])


def test_missing_optional_sampler_dependency_is_a_clear_user_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a)
    )
    with pytest.raises(UserInputError, match="hpo\\[gp\\]"):
        StudyRunner("s", StudyConfig(dataset="digits", sampler="gp"), f"sqlite:///{tmp_path / 'o.sqlite'}")


def test_a_pareto_study_tells_two_values_and_its_best_is_the_knee(tmp_path: Path) -> None:
    config = StudyConfig(dataset="digits", mode="pareto", seed=2, trials=5)
    runner = StudyRunner("p", config, f"sqlite:///{tmp_path / 'o.sqlite'}")
    assert runner.multi_objective and len(runner.study.directions) == 2
    values = [(0.95, 0.10), (0.90, 0.50), (0.85, 0.85), (0.60, 0.92), (0.30, 0.95), (0.50, 0.50)]
    numbers = []
    for objective, health in values:
        asked = runner.ask()
        assert runner.report(asked.number, 1, objective) is False  # Optuna cannot prune a multi-objective trial
        runner.tell_completed(asked.number, [objective, health])
        numbers.append(asked.number)
    best = runner.best()
    assert best is not None and best.number == numbers[2] and best.values == [0.85, 0.85]
    assert runner.best_score(best) == 0.85
    stored = runner.study.trials[numbers[2]]
    assert stored.values == [0.85, 0.85] and stored.intermediate_values == {1: 0.85}
    resumed = StudyRunner("p", config, f"sqlite:///{tmp_path / 'o.sqlite'}")
    again = resumed.best()
    assert again is not None and again.number == numbers[2]
