"""Everything that reaches inside Optuna: the only module that touches its private attributes.

``TrialRecord`` writes a trial to Optuna's database storage in one transaction per step of its life.

Optuna's ``RDBStorage`` spends one transaction per parameter when a trial is asked (each checking the
parameter's distribution against earlier trials) and one per attribute when it is told: some fifty
queries per trial, which capped the scheduler below the rate eight trainers finish half-second trials.
``TrialRecord`` writes the same rows into Optuna's own tables (its models' ``__table__``, so the schema
is always the installed Optuna's) with SQLAlchemy Core statements: a new trial with all its parameters
and attributes in one transaction of five statements, each epoch's intermediate value in one of two,
and its end (state, attributes, value) in another of three (``ON CONFLICT`` upserts on Postgres and
SQLite); the ORM's unit of work cost as much CPU again as the statements themselves. Whatever it
writes reads back through Optuna's public API; ``tests/contract/optuna_record`` checks that on SQLite
and Postgres, with Optuna 4.x and 5.x (the models are an internal module of Optuna, hence the
``optuna<6`` pin: check a new major with that suite first). Storage that is not a database
(``InMemoryStorage``, journal files) gets the public API instead.

The functions below are the other private handles the scheduler needs: a study's storage and id,
a trial's storage id, and copying a trial into another study (the scheduler's in-memory sampling copy).
``HistoryView`` shows a sampler a bounded part of a long study (``services.scheduler.bounded_history``).
"""

from __future__ import annotations

import bisect
import copy
import heapq
import json
from collections.abc import Container, Mapping, Sequence
from datetime import datetime
from typing import Any

import optuna
import sqlalchemy
from optuna.distributions import distribution_to_json
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState
from sqlalchemy import Table, func, insert, select, update

from services.runtime.db.upsert import NATIVE_UPSERT_DIALECTS, on_conflict

_TRIALS: Table = models.TrialModel.__table__
_STUDIES: Table = models.StudyModel.__table__
_PARAMS: Table = models.TrialParamModel.__table__
_USER_ATTRS: Table = models.TrialUserAttributeModel.__table__
_SYSTEM_ATTRS: Table = models.TrialSystemAttributeModel.__table__
_VALUES: Table = models.TrialValueModel.__table__
_INTERMEDIATE: Table = models.TrialIntermediateValueModel.__table__
_TRIAL_MAPPER = sqlalchemy.inspect(models.TrialModel)
_COMPLETE_COLUMN = "datetime_complete"


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
        study_id = self._study._study_id
        with self._rdb.engine.begin() as conn:
            # The study's row lock orders concurrent creates, so a trial's number is the count before it.
            locked = conn.execute(select(_STUDIES.c.study_id).where(_STUDIES.c.study_id == study_id).with_for_update())
            if locked.first() is None:
                raise KeyError(f"no study with id {study_id} in Optuna storage")
            counted = conn.execute(select(func.count()).select_from(_TRIALS).where(_TRIALS.c.study_id == study_id))
            number = int(counted.scalar_one())
            row = {"study_id": study_id, "number": number, "state": OptunaState.RUNNING}
            inserted = conn.execute(insert(_TRIALS).values({**row, "datetime_start": stored_datetime(datetime.now())}))
            (trial_id,) = (int(key) for key in inserted.inserted_primary_key or ())
            params = [
                {
                    "trial_id": trial_id,
                    "param_name": name,
                    "param_value": trial.distributions[name].to_internal_repr(value),
                    "distribution_json": distribution_to_json(trial.distributions[name]),
                }
                for name, value in trial.params.items()
            ]
            for table, rows in (
                (_PARAMS, params),
                (_USER_ATTRS, _attribute_rows(trial_id, trial.user_attrs)),
                (_SYSTEM_ATTRS, _attribute_rows(trial_id, trial.system_attrs)),
            ):
                if rows:
                    conn.execute(insert(table), rows)
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
        """One intermediate value (a step reported again replaces it), in one transaction of two statements
        (Optuna's ORM path costs several times the CPU, once per epoch of every trial). Raises
        ``UpdateFinishedTrialError`` when the trial has ended (nothing is written then)."""
        if self._rdb is None:
            self._storage.set_trial_intermediate_value(trial_id, step, value)
            return
        stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
        row = {"trial_id": trial_id, "step": step, "intermediate_value": stored, "intermediate_value_type": kind}
        with self._rdb.engine.begin() as conn:
            _lock_unfinished(conn, trial_id)
            _upsert_rows(conn, _INTERMEDIATE, [row], ("trial_id", "step"))

    def finish(
        self, trial_id: int, state: OptunaState, value: float | Sequence[float] | None, attrs: Mapping[str, Any]
    ) -> None:
        """Attributes, value(s) and final state at once (a multi-objective study gives one value per
        objective). Raises ``UpdateFinishedTrialError`` when the trial has already ended (nothing is written
        then)."""
        values = None if value is None else [float(value)] if isinstance(value, int | float) else list(value)
        if self._rdb is None:
            for key, attr in attrs.items():
                self._storage.set_trial_user_attr(trial_id, key, attr)
            self._storage.set_trial_state_values(trial_id, state, values)
            return
        ended = {"state": state, _COMPLETE_COLUMN: stored_datetime(datetime.now(), _COMPLETE_COLUMN)}
        with self._rdb.engine.begin() as conn:
            # The state goes first: the update locks the row, and ends only a trial that had not ended.
            unfinished = _TRIALS.c.state.in_((OptunaState.RUNNING, OptunaState.WAITING))
            changed = conn.execute(update(_TRIALS).where(_TRIALS.c.trial_id == trial_id, unfinished).values(ended))
            if changed.rowcount == 0:
                _lock_unfinished(conn, trial_id)  # raises: the trial is unknown or has ended
                raise UpdateFinishedTrialError(f"trial id {trial_id} is in no state that can end")
            _upsert_rows(conn, _USER_ATTRS, _attribute_rows(trial_id, attrs), ("trial_id", "key"))
            rows = []
            for objective, one in enumerate(values or []):
                stored, kind = models.TrialValueModel.value_to_stored_repr(one)
                rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
            if rows:
                conn.execute(insert(_VALUES), rows)


def _upsert_rows(conn: sqlalchemy.Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    """Insert ``rows``, replacing the non-key columns of any whose ``keys`` exist: one statement on Postgres and
    SQLite (``ON CONFLICT``), an update then an insert where it missed, row by row, elsewhere."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in NATIVE_UPSERT_DIALECTS:
        columns = tuple(name for name in rows[0] if name not in keys)
        conn.execute(on_conflict(dialect, table, keys, columns), rows)
    else:
        upsert_rows_one_by_one(conn, table, rows, keys)


def upsert_rows_one_by_one(
    conn: sqlalchemy.Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    """``_upsert_rows`` for a database without ``ON CONFLICT`` (MySQL): an update, then an insert if it missed."""
    columns = [name for name in rows[0] if name not in keys] if rows else []
    for row in rows:
        this = sqlalchemy.and_(*(table.c[key] == row[key] for key in keys))
        if conn.execute(update(table).where(this).values({c: row[c] for c in columns})).rowcount == 0:
            conn.execute(insert(table).values(row))


def _lock_unfinished(conn: sqlalchemy.Connection, trial_id: int) -> None:
    """Lock ``trial_id``'s row for this transaction; raises ``UpdateFinishedTrialError`` when it has ended."""
    row = conn.execute(
        select(_TRIALS.c.state, _TRIALS.c.number).where(_TRIALS.c.trial_id == trial_id).with_for_update()
    ).first()
    if row is None:
        raise KeyError(f"no trial with id {trial_id} in Optuna storage")
    if OptunaState(row.state).is_finished():
        raise UpdateFinishedTrialError(f"trial {row.number} has already finished ({row.state.name})")


def stored_datetime(value: datetime, column: str = "datetime_start") -> Any:
    """``value`` as the installed Optuna writes it into a trial's datetime column (naive local time in
    4.x, naive UTC in 5.x): through the model's own attribute, so that either reads it back right."""
    attribute = _TRIAL_MAPPER.get_property_by_column(_TRIALS.c[column]).key
    setter = "datetime_start" if column == "datetime_start" else "datetime_complete"
    row = models.TrialModel()
    setattr(row, setter, value)
    return getattr(row, attribute)


def _attribute_rows(trial_id: int, attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"trial_id": trial_id, "key": key, "value_json": json.dumps(value)} for key, value in attrs.items()]


class HistoryView:
    """``study`` as a sampler sees it: every unfinished trial, and of the finished ones only the ``best`` best
    (by value) and the latest others, up to ``keep``. Everything else is the study's own.

    Samplers read trials through ``Study._get_trials`` (TPE, CMA-ES and GP alike); this is the one place
    that answers it differently. A multi-objective study is shown whole (its best is a front, not a value).
    The selection is kept up to date incrementally (``_Selection``), so a read costs O(keep), not O(trials).
    """

    def __init__(self, study: optuna.Study, keep: int, best: int) -> None:
        self._study = study
        self._keep = keep
        self._best = min(best, keep)
        self._selection: _Selection | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=True)

    def get_trials(self, deepcopy: bool = True, states: Container[OptunaState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy, states)

    def _get_trials(
        self, deepcopy: bool = True, states: Container[OptunaState] | None = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        kept = self._bounded(self._study._get_trials(deepcopy=False, use_cache=use_cache))
        if states is not None:
            kept = [t for t in kept if t.state in states]
        return copy.deepcopy(kept) if deepcopy else kept

    def _bounded(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        if self._study._is_multi_objective():
            return trials
        if not _numbered_by_position(trials):  # not a study's own list: choose afresh, O(trials)
            return _chosen_afresh(trials, self._keep, self._best, self._sign())
        if self._selection is None:
            self._selection = _Selection(self._keep, self._best, self._sign())
        return self._selection.kept(trials)

    def _sign(self) -> float:
        return 1.0 if self._study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0


def _numbered_by_position(trials: list[FrozenTrial]) -> bool:
    return not trials or (trials[0].number == 0 and trials[-1].number == len(trials) - 1)


def _chosen_afresh(trials: list[FrozenTrial], keep: int, best: int, sign: float) -> list[FrozenTrial]:
    finished = [t for t in trials if t.state.is_finished()]
    if len(finished) <= keep:
        return trials
    valued = [t for t in finished if t.state is OptunaState.COMPLETE and t.value is not None]
    chosen = {t.number for t in heapq.nlargest(best, valued, key=lambda t: sign * float(t.value or 0.0))}
    for trial in reversed(finished):
        if len(chosen) >= keep:
            break
        chosen.add(trial.number)
    return [t for t in trials if not t.state.is_finished() or t.number in chosen]


class _Selection:
    """The best and latest finished trials of one study's list (where ``trials[n].number == n``), updated from
    the trials that are new or were unfinished at the last read: a trial only ever goes from unfinished to
    finished, and a finished one never changes. Trial objects are read from the list at every call (in-memory
    storage replaces a trial's object when it ends), only numbers are kept."""

    def __init__(self, keep: int, best: int, sign: float) -> None:
        self._keep, self._best, self._sign = keep, best, sign
        self._reset()

    def _reset(self) -> None:
        self._length = 0
        self._unfinished: set[int] = set()
        self._finished: list[int] = []  # numbers, ascending
        self._best_heap: list[tuple[float, int]] = []  # (sign * value, number), the smallest on top

    def kept(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        self._update(trials)
        if len(self._finished) <= self._keep:
            return trials
        chosen = {-negated for _, negated in self._best_heap}
        for number in reversed(self._finished):
            if len(chosen) >= self._keep:
                break
            chosen.add(number)
        return [trials[number] for number in sorted(chosen | self._unfinished)]

    def _update(self, trials: list[FrozenTrial]) -> None:
        if len(trials) < self._length:  # a different list than before: start over
            self._reset()
        for number in [*sorted(self._unfinished), *range(self._length, len(trials))]:
            trial = trials[number]
            if not trial.state.is_finished():
                self._unfinished.add(number)
                continue
            self._unfinished.discard(number)
            bisect.insort(self._finished, number)
            if trial.state is OptunaState.COMPLETE and trial.value is not None and self._best > 0:
                entry = (self._sign * float(trial.value), -number)  # ties: the earlier trial ranks higher
                if len(self._best_heap) < self._best:
                    heapq.heappush(self._best_heap, entry)
                elif entry > self._best_heap[0]:
                    heapq.heapreplace(self._best_heap, entry)
        self._length = len(trials)
