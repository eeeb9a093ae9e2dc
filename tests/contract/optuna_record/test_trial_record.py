"""What ``TrialRecord`` writes with Optuna's table models reads back through Optuna's public API exactly
as if Optuna had written it, on SQLite and on Postgres; and the scheduler's runner built on it keeps
sampling, pruning and resuming correctly."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from contracts.enums import PrunerName
from contracts.study import StudyConfig
from services.scheduler.optuna_internals import (
    TrialRecord,
    frozen,
    storage_of,
    trial_id_of,
    upsert_rows_one_by_one,
)
from services.scheduler.study_runner import StudyRunner, open_storage

DISTRIBUTIONS = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "units": IntDistribution(16, 256, step=16),
    "activation": CategoricalDistribution(["relu", "tanh", "elu"]),
    "batch_norm": CategoricalDistribution([True, False]),
}


def _asked(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """A RUNNING trial with parameters and attributes, asked on an in-memory study."""
    trial = study.ask(DISTRIBUTIONS)
    trial.set_user_attr("trial_id", "abc")
    trial.set_user_attr("nested", {"a": [1, 2.5, None]})
    storage_of(study).set_trial_system_attr(trial_id_of(trial), "grid_id", 3)
    return frozen(study, trial_id_of(trial))


def test_created_and_finished_trials_read_back_through_the_public_api(database_url: str) -> None:
    durable = optuna.create_study(storage=open_storage(database_url), direction="maximize")
    record = TrialRecord(durable)
    memory = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=4))
    first, second, third = (_asked(memory) for _ in range(3))

    ids = [record.create(trial) for trial in (first, second, third)]
    assert [number for _, number in ids] == [0, 1, 2]
    record.report(ids[0][0], 1, 0.25)
    record.finish(ids[0][0], TrialState.COMPLETE, 0.75, {"trial_id": "replaced", "score": 0.5})
    record.finish(ids[1][0], TrialState.FAIL, None, {"fail_reason": "lost"})
    record.finish(ids[2][0], TrialState.COMPLETE, math.inf, {})

    reread = optuna.load_study(study_name=durable.study_name, storage=open_storage(database_url)).trials
    assert [t.state for t in reread] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert reread[0].params == first.params and reread[0].distributions == first.distributions
    assert reread[1].params == second.params
    assert reread[0].value == 0.75 and reread[2].value == math.inf and reread[1].value is None
    assert reread[0].intermediate_values == {1: 0.25}
    assert reread[0].user_attrs == {"trial_id": "replaced", "nested": {"a": [1, 2.5, None]}, "score": 0.5}
    assert reread[1].user_attrs["fail_reason"] == "lost"
    assert reread[0].system_attrs["grid_id"] == 3
    assert all(t.datetime_complete is not None and t.datetime_start is not None for t in reread)


def test_finishing_a_finished_trial_raises_and_changes_nothing(database_url: str) -> None:
    durable = optuna.create_study(storage=open_storage(database_url))
    record = TrialRecord(durable)
    trial_id, _ = record.create(_asked(optuna.create_study()))
    record.finish(trial_id, TrialState.PRUNED, None, {"why": "first"})
    with pytest.raises(UpdateFinishedTrialError):
        record.finish(trial_id, TrialState.COMPLETE, 1.0, {"why": "second"})
    (trial,) = optuna.load_study(study_name=durable.study_name, storage=open_storage(database_url)).trials
    assert trial.state is TrialState.PRUNED and trial.user_attrs == {
        "trial_id": "abc",
        "nested": {"a": [1, 2.5, None]},
        "why": "first",
    }


def test_finishing_or_reporting_an_unknown_trial_raises_key_error(database_url: str) -> None:
    record = TrialRecord(optuna.create_study(storage=open_storage(database_url)))
    with pytest.raises(KeyError):
        record.finish(10_000, TrialState.COMPLETE, 1.0, {"why": "none"})
    with pytest.raises(KeyError):
        record.report(10_000, 1, 0.5)


def test_the_row_by_row_upsert_for_other_databases_replaces_and_adds(database_url: str) -> None:
    """The path a database without ``ON CONFLICT`` (MySQL) takes, run here on SQLite and Postgres."""
    durable = optuna.create_study(storage=open_storage(database_url))
    trial_id, _ = TrialRecord(durable).create(_asked(optuna.create_study()))
    rows = [
        {"trial_id": trial_id, "key": "trial_id", "value_json": '"replaced"'},
        {"trial_id": trial_id, "key": "added", "value_json": "7"},
    ]
    table = optuna.storages._rdb.models.TrialUserAttributeModel.__table__
    storage = open_storage(database_url)
    assert isinstance(storage, optuna.storages.RDBStorage)
    with storage.engine.begin() as conn:
        upsert_rows_one_by_one(conn, table, rows, ("trial_id", "key"))
    assert frozen(durable, trial_id).user_attrs == {"trial_id": "replaced", "nested": {"a": [1, 2.5, None]}, "added": 7}


def test_intermediate_values_read_back_replaced_and_refused_once_the_trial_ended(database_url: str) -> None:
    durable = optuna.create_study(storage=open_storage(database_url))
    record = TrialRecord(durable)
    trial_id, _ = record.create(_asked(optuna.create_study()))
    for step, value in ((1, 0.5), (2, math.inf), (3, -math.inf), (2, 0.25), (4, math.nan)):
        record.report(trial_id, step, value)  # step 2 twice: the second replaces the first
    record.finish(trial_id, TrialState.PRUNED, None, {})
    with pytest.raises(UpdateFinishedTrialError):
        record.report(trial_id, 5, 0.1)
    (trial,) = optuna.load_study(study_name=durable.study_name, storage=open_storage(database_url)).trials
    values = trial.intermediate_values
    assert {k: v for k, v in values.items() if k != 4} == {1: 0.5, 2: 0.25, 3: -math.inf} and math.isnan(values[4])


def test_the_runner_prunes_and_resumes_from_the_durable_study(database_url: str) -> None:
    config = StudyConfig(dataset="digits", seed=2, trials=20, max_epochs=4, pruner=PrunerName.MEDIAN)
    runner = StudyRunner("study-a", config, database_url)
    for index in range(6):  # more completed trials than the median pruner's startup of 5
        asked = runner.ask(trial_id=f"t{index}")
        assert not any(runner.report(asked.number, epoch, 0.5 + 0.05 * index) for epoch in range(1, 5))
        runner.tell_completed(asked.number, 0.5 + 0.05 * index, {"trial_id": f"t{index}"})
    weak = runner.ask(trial_id="weak")
    pruned = [runner.report(weak.number, epoch, 0.01) for epoch in range(1, 5)]
    assert any(pruned), "a trial far below every earlier one is pruned"
    still_running = runner.ask(trial_id="running", attempt=2)

    resumed = StudyRunner("study-a", config, database_url)
    assert sorted(resumed.running_numbers()) == [weak.number, still_running.number]
    resumed.tell_pruned(weak.number, {"pruned_at_epoch": 2})
    resumed.tell_completed(still_running.number, 0.99, {"trial_id": "running"})
    best = resumed.best()
    assert best is not None and best.number == still_running.number and best.user_attrs["attempt"] == 2
    assert resumed.ask().number == still_running.number + 1
    assert [t.state for t in resumed.trials()][-3:] == [TrialState.PRUNED, TrialState.COMPLETE, TrialState.RUNNING]
