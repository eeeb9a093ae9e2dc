"""Everything that reaches inside Optuna: the only module that touches its private attributes.

``TrialRecord`` writes a trial to Optuna's database storage in one transaction per step of its life.

Optuna's ``RDBStorage`` spends one transaction per parameter when a trial is asked (each checking the
parameter's distribution against earlier trials) and one per attribute when it is told: some fifty
queries per trial, which capped the scheduler below the rate eight trainers finish half-second trials.
``TrialRecord`` writes the same rows with Optuna's own table models (so the schema is always the
installed Optuna's): a new trial with all its parameters and attributes in one transaction, and its
end (attributes, value, state) in another. Whatever it writes reads back through Optuna's public API;
``tests/contract/optuna_record`` checks that on SQLite and Postgres, with Optuna 4.x and 5.x (the
models are an internal module of Optuna, hence the ``optuna<6`` pin: check a new major with that suite
first). Storage that is not a database (``InMemoryStorage``, journal files) gets the public API instead.

The functions below are the other private handles the scheduler needs: a study's storage and id,
a trial's storage id, and copying a trial into another study (the scheduler's in-memory sampling copy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    return study._storage


def study_id_of(study: optuna.Study) -> int:
    return study._study_id


def trial_id_of(trial: FrozenTrial | optuna.Trial) -> int:
    """The storage id of a trial (numbers count within a study; ids are the storage's keys)."""
    return trial._trial_id


def copy_trial(study: optuna.Study, template: FrozenTrial) -> int:
    """Add a copy of ``template`` (state, params, values, attributes) to ``study``; the copy's trial id."""
    return study._storage.create_new_trial(study._study_id, template_trial=template)


def frozen(study: optuna.Study, trial_id: int) -> FrozenTrial:
    return study._storage.get_trial(trial_id)


def live_trial(study: optuna.Study, trial_id: int) -> optuna.Trial:
    """A ``Trial`` handle (for report / should_prune / tell) on a RUNNING trial of ``study``."""
    return optuna.Trial(study, trial_id)


class TrialRecord:
    """The durable side of one study's trials."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study
        self._storage = study._storage
        backend = getattr(self._storage, "_backend", self._storage)
        self._rdb = backend if isinstance(backend, optuna.storages.RDBStorage) else None

    def create(self, trial: FrozenTrial) -> tuple[int, int]:
        """Store ``trial`` (RUNNING, with its parameters and attributes) as a new trial; its (id, number)."""
        if self._rdb is None:
            trial_id = self._storage.create_new_trial(self._study._study_id, template_trial=trial)
            return trial_id, self._storage.get_trial(trial_id).number
        with _create_scoped_session(self._rdb.scoped_session) as session:
            models.StudyModel.find_or_raise_by_id(self._study._study_id, session, for_update=True)
            row = models.TrialModel(
                study_id=self._study._study_id, number=None, state=OptunaState.RUNNING, datetime_start=datetime.now()
            )
            session.add(row)
            session.flush()
            trial_id = int(row.trial_id)
            session.add_all(
                models.TrialParamModel(
                    trial_id=trial_id,
                    param_name=name,
                    param_value=trial.distributions[name].to_internal_repr(value),
                    distribution_json=distribution_to_json(trial.distributions[name]),
                )
                for name, value in trial.params.items()
            )
            session.add_all(_attributes(models.TrialUserAttributeModel, trial_id, trial.user_attrs))
            session.add_all(_attributes(models.TrialSystemAttributeModel, trial_id, trial.system_attrs))
            number = row.count_past_trials(session)
            row.number = number
            return trial_id, number

    def running_ids(self) -> dict[int, int]:
        """Number -> trial id of every RUNNING trial, in one query."""
        if self._rdb is None:
            running = self._storage.get_all_trials(self._study._study_id, states=(OptunaState.RUNNING,))
            return {trial.number: trial._trial_id for trial in running}
        with _create_scoped_session(self._rdb.scoped_session) as session:
            rows = session.query(models.TrialModel.number, models.TrialModel.trial_id).filter(
                models.TrialModel.study_id == self._study._study_id, models.TrialModel.state == OptunaState.RUNNING
            )
            return {int(number): int(trial_id) for number, trial_id in rows}

    def running_numbers(self) -> list[int]:
        return sorted(self.running_ids())

    def report(self, trial_id: int, step: int, value: float) -> None:
        self._storage.set_trial_intermediate_value(trial_id, step, value)

    def finish(self, trial_id: int, state: OptunaState, value: float | None, attrs: Mapping[str, Any]) -> None:
        """Attributes, value and final state at once. Raises ``UpdateFinishedTrialError`` when the trial
        has already ended (nothing is written then)."""
        if self._rdb is None:
            for key, attr in attrs.items():
                self._storage.set_trial_user_attr(trial_id, key, attr)
            self._storage.set_trial_state_values(trial_id, state, None if value is None else [value])
            return
        with _create_scoped_session(self._rdb.scoped_session) as session:
            row = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            if row.state.is_finished():
                raise UpdateFinishedTrialError(f"trial {row.number} has already finished ({row.state.name})")
            existing: dict[str, Any] = {
                str(attribute.key): attribute
                for attribute in session.query(models.TrialUserAttributeModel).filter(
                    models.TrialUserAttributeModel.trial_id == trial_id,
                    models.TrialUserAttributeModel.key.in_(list(attrs)),
                )
            }
            for key, attr in attrs.items():
                if key in existing:
                    existing[key].value_json = json.dumps(attr)
                else:
                    session.add(models.TrialUserAttributeModel(trial_id=trial_id, key=key, value_json=json.dumps(attr)))
            if value is not None:
                stored, kind = models.TrialValueModel.value_to_stored_repr(value)
                session.add(models.TrialValueModel(trial_id=trial_id, objective=0, value=stored, value_type=kind))
            row.state = state
            row.datetime_complete = datetime.now()


def _attributes(
    model: type[models.TrialUserAttributeModel] | type[models.TrialSystemAttributeModel],
    trial_id: int,
    attrs: Mapping[str, Any],
) -> list[Any]:
    return [model(trial_id=trial_id, key=key, value_json=json.dumps(value)) for key, value in attrs.items()]
