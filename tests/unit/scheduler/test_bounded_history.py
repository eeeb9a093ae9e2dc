"""A long study's sampler learns from the best and the latest trials only; a short study is untouched."""

from __future__ import annotations

import statistics
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState
from pydantic import ValidationError

from contracts.enums import SamplerName
from contracts.study import StudyConfig
from services.scheduler.bounded_history import MIN_SAMPLER_HISTORY, BoundedHistorySampler
from services.scheduler.optuna_internals import HistoryView
from services.scheduler.samplers import build_sampler
from services.scheduler.settings import SchedulerSettings

X: dict[str, BaseDistribution] = {"x": FloatDistribution(0, 1)}


def _study(values: list[float], *, running: int = 0) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for value in values:
        study.add_trial(optuna.trial.create_trial(params={"x": value}, distributions=X, value=value))
    for _ in range(running):
        study.ask(X)
    return study


def test_a_long_study_shows_its_best_the_latest_others_and_every_running_trial() -> None:
    values = [((n * 37) % 50) / 50 for n in range(50)]  # a permutation of 0.00 .. 0.98
    study = _study(values, running=2)
    view = HistoryView(study, keep=10, best=5)
    shown = view.get_trials(deepcopy=False)
    finished = [t for t in shown if t.state.is_finished()]
    best_five = sorted(values, reverse=True)[:5]
    assert len(finished) == 10
    assert {t.value for t in finished} >= set(best_five)
    assert {t.number for t in finished} - {t.number for t in finished if t.value in best_five} <= set(range(40, 50))
    assert [t.number for t in shown if t.state is TrialState.RUNNING] == [50, 51]
    assert [t.number for t in shown] == sorted(t.number for t in shown)  # in trial order, like the study's own
    assert len(view.get_trials(states=(TrialState.COMPLETE,))) == 10
    assert view.direction == study.direction and view.trials[0].number == shown[0].number


def test_a_short_or_multi_objective_study_is_shown_whole() -> None:
    study = _study([0.1, 0.5, 0.3])
    assert HistoryView(study, keep=10, best=2).get_trials(deepcopy=False) == study.get_trials(deepcopy=False)
    multi = optuna.create_study(directions=["maximize", "maximize"])
    for n in range(20):
        multi.add_trial(optuna.trial.create_trial(params={"x": n / 20}, distributions=X, values=[n, -n]))
    assert len(HistoryView(multi, keep=4, best=1).get_trials()) == 20


class CountingSampler(BaseSampler):
    """Samples ``x`` at random and records how many finished trials each call was shown."""

    def __init__(self) -> None:
        self.shown: list[int] = []
        self.after: list[int] = []

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, name: str, distribution: Any) -> Any:
        self.shown.append(len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))))
        return 0.5

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        self.after.append(len(study.get_trials(deepcopy=False)))


def test_the_wrapped_sampler_sees_at_most_keep_finished_trials_but_its_callbacks_the_whole_study() -> None:
    base = CountingSampler()
    study = optuna.create_study(direction="maximize", sampler=BoundedHistorySampler(base, keep=20))
    for n in range(30):
        trial = study.ask(X)
        study.tell(trial, n / 30)
    assert base.shown == [min(n, 20) for n in range(30)]
    assert base.after[-1] == 30


def _late_median(sampler: BaseSampler, n_trials: int) -> tuple[optuna.Study, float]:
    def objective(trial: optuna.Trial) -> float:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", -2, 2)
        bonus = 0.0 if trial.suggest_categorical("c", ["a", "b", "c"]) == "b" else 0.05
        return -((x - 0.7) ** 2) - 0.1 * (y - 0.5) ** 2 - bonus

    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study, statistics.median(t.value for t in study.trials[-100:] if t.value is not None)


def test_tpe_on_a_long_study_finds_the_optimum_and_exploits_it_as_well_as_on_the_whole_study() -> None:
    # keep=250 is the smallest history whose good group is TPE's own cap (25), the regime of every allowed
    # setting: with fewer (keep=60: 6 best) TPE explores late trials markedly more, on Optuna 4.x and 5.x alike.
    def tpe() -> optuna.samplers.TPESampler:
        return optuna.samplers.TPESampler(seed=0, multivariate=True, n_startup_trials=5)

    bounded, bounded_late = _late_median(BoundedHistorySampler(tpe(), MIN_SAMPLER_HISTORY), 400)
    _, whole_late = _late_median(tpe(), 400)
    assert bounded.best_value > -0.002 and bounded.best_params["c"] == "b"
    assert bounded_late > whole_late - 0.02, (bounded_late, whole_late)


def test_only_samplers_that_read_history_are_bounded() -> None:
    space = StudyConfig(dataset="digits").effective_search_space()
    assert isinstance(build_sampler(SamplerName.TPE, space, seed=1, parallel=False, history=100), BoundedHistorySampler)
    assert isinstance(
        build_sampler(SamplerName.CMAES, space, seed=1, parallel=False, history=100), BoundedHistorySampler
    )
    assert isinstance(
        build_sampler(SamplerName.RANDOM, space, seed=1, parallel=False, history=100), optuna.samplers.RandomSampler
    )
    assert isinstance(
        build_sampler(SamplerName.TPE, space, seed=1, parallel=False, history=0), optuna.samplers.TPESampler
    )


def test_the_view_kept_up_to_date_shows_what_a_fresh_choice_shows_while_trials_finish_out_of_order() -> None:
    import random

    from services.scheduler.optuna_internals import _chosen_afresh

    rng = random.Random(3)
    study = optuna.create_study(direction="minimize")
    view = HistoryView(study, keep=20, best=3)
    running: list[optuna.Trial] = []
    for step in range(150):
        running.append(study.ask(X))
        if len(running) > 6 or step % 7 == 0:  # parallel trials end in any order, some fail or are pruned
            trial = running.pop(rng.randrange(len(running)))
            state = rng.choice([TrialState.COMPLETE] * 4 + [TrialState.FAIL, TrialState.PRUNED])
            study.tell(trial, rng.random() if state is TrialState.COMPLETE else None, state=state)
        trials = study._get_trials(deepcopy=False, use_cache=False)
        shown = [t.number for t in view.get_trials(deepcopy=False)]
        assert shown == [t.number for t in _chosen_afresh(trials, 20, 3, -1.0)], step
    finished = [t for t in view.get_trials(deepcopy=False) if t.state.is_finished()]
    assert len(finished) == 20


def test_a_history_too_short_for_tpes_good_group_is_refused_with_the_setting_and_its_bounds() -> None:
    with pytest.raises(ValidationError, match=f"0 .* or at least {MIN_SAMPLER_HISTORY}, not 60"):
        SchedulerSettings(optuna_storage="sqlite:///x.sqlite", sampler_history=60)
    assert SchedulerSettings(optuna_storage="sqlite:///x.sqlite", sampler_history=0).sampler_history == 0
    assert SchedulerSettings(optuna_storage="sqlite:///x.sqlite").sampler_history >= MIN_SAMPLER_HISTORY
