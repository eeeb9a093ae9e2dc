"""The Optuna side of one study, callable without any broker: ask, report, prune, tell.

The scheduler is the only writer of Optuna storage. Sampling and pruning decisions run on an in-memory
copy of the study, so they take milliseconds however far away the database is; every change is written
through to the durable study in storage *before* the copy sees it (the record that a restarted
scheduler resumes from, and that reports and optuna-dashboard read), in as few transactions as
Optuna's storage API allows: one per ask (the trial with all its parameters), one per reported epoch,
and one per attribute plus one for the final state per tell. Plain ``study.ask`` on a database spends
one transaction per parameter and rereads the trials for every suggestion: about ten times slower.

Trials are addressed by their number in durable storage; the transport layer maps its trial ids to
numbers.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.study import StudyDirection
from optuna.trial import TrialState as OptunaState

from contracts.enums import Mode
from contracts.pareto import ParetoPoint, knee
from contracts.study import StudyConfig
from services.runtime.db.liveness import ping_when_idle
from services.scheduler.bounded_history import DEFAULT_SAMPLER_HISTORY
from services.scheduler.optuna_internals import TrialRecord, copy_trial, frozen, live_trial, trial_id_of
from services.scheduler.pruning import build_pruner
from services.scheduler.samplers import build_sampler
from services.scheduler.search_space import to_distributions
from services.scheduler.study_state import StoredState, StoredTrial

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

CONFIG_ATTR, NAME_ATTR, STATE_ATTR = "hpo_config", "hpo_study_name", "hpo_state"
RUNNING = "running"

_STORED_STATES = {
    OptunaState.RUNNING: StoredState.RUNNING,
    OptunaState.COMPLETE: StoredState.COMPLETED,
    OptunaState.PRUNED: StoredState.PRUNED,
    OptunaState.FAIL: StoredState.FAILED,
    OptunaState.WAITING: StoredState.WAITING,
}


_storages: dict[str, optuna.storages.RDBStorage] = {}
_storages_lock = threading.Lock()


def open_storage(storage: str | optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """One storage (one connection pool) per database URL and process, whose connections are pinged after
    sitting idle (``ping_when_idle``) so that a restarted Postgres does not fail the next query; opening a
    storage costs some 30 ms (engine, schema check), once instead of once per study. The first call creates
    Optuna's tables: the scheduler calls it on start, so a study's first trial does not wait for that."""
    if not isinstance(storage, str):
        return storage
    with _storages_lock:
        if storage not in _storages:
            _storages[storage] = optuna.storages.RDBStorage(storage)
            ping_when_idle(_storages[storage].engine)
        return _storages[storage]


@dataclass(frozen=True)
class AskedTrial:
    number: int
    params: dict[str, Any]


@dataclass(frozen=True)
class _LiveTrial:
    """A running trial: its id in durable storage and its twin in the in-memory sampling study."""

    durable_id: int
    sampling: optuna.Trial


class StudyRunner:
    """Ask/tell over Optuna storage for one study; every study maximizes its score. A pareto study maximizes
    two values, ``(objective_score, overall_health)``; its best is the knee of the front (``contracts.pareto``).
    Optuna cannot prune a multi-objective trial: its epochs are recorded, never judged."""

    def __init__(
        self,
        study_id: str,
        config: StudyConfig,
        storage: str | optuna.storages.BaseStorage,
        *,
        display_name: str = "",
        sampler_history: int = DEFAULT_SAMPLER_HISTORY,
    ) -> None:
        self.config = config
        self._space = config.effective_search_space()
        self._distributions = to_distributions(self._space)
        self.multi_objective = config.mode is Mode.PARETO
        directions = [StudyDirection.MAXIMIZE] * (2 if self.multi_objective else 1)
        self.study = optuna.create_study(
            study_name=study_id, storage=open_storage(storage), directions=directions, load_if_exists=True
        )
        self._sampling = optuna.create_study(
            storage=optuna.storages.InMemoryStorage(),
            directions=directions,
            sampler=build_sampler(
                config.sampler,
                self._space,
                seed=config.seed,
                parallel=config.parallelism > 1,
                history=sampler_history,
                trials=config.trials,
            ),
            pruner=build_pruner(config.pruner.optuna_pruner, trials=config.trials, max_epochs=config.max_epochs),
        )
        self._record = TrialRecord(self.study)
        self._live: dict[int, _LiveTrial] = {}
        self._durable_number: dict[int, int] = {}  # twin's number -> durable number
        for stored in self.study.get_trials(deepcopy=False):  # a resumed study: the sampler learns from it
            twin = copy_trial(self._sampling, stored)
            self._durable_number[frozen(self._sampling, twin).number] = stored.number
            if stored.state is OptunaState.RUNNING:
                self._live[stored.number] = _LiveTrial(trial_id_of(stored), live_trial(self._sampling, twin))
        self.ended = self.study.user_attrs.get(STATE_ATTR, RUNNING) != RUNNING
        """True for a study that storage says has ended (a repeated ``study.created`` must not rerun it)."""
        if CONFIG_ATTR not in self.study.user_attrs:  # what a restarted scheduler needs to resume the study
            self.study.set_user_attr(CONFIG_ATTR, config.model_dump(mode="json"))
            self.study.set_user_attr(NAME_ATTR, display_name or study_id)
            self.study.set_user_attr(STATE_ATTR, RUNNING)

    @staticmethod
    def unfinished(storage: str | optuna.storages.BaseStorage) -> list[tuple[str, str, StudyConfig]]:
        """(study id, study name, config) of every study in storage that has not ended."""
        found = []
        for summary in optuna.get_all_study_summaries(open_storage(storage), include_best_trial=False):
            attrs = summary.user_attrs
            if attrs.get(STATE_ATTR) == RUNNING and CONFIG_ATTR in attrs:
                found.append(
                    (summary.study_name, str(attrs.get(NAME_ATTR)), StudyConfig.model_validate(attrs[CONFIG_ATTR]))
                )
        return found

    @staticmethod
    def stored(storage: str | optuna.storages.BaseStorage, study_id: str) -> tuple[str, StudyConfig, str] | None:
        """(study name, config, stored state) of one study in storage; None when storage has no such study."""
        for summary in optuna.get_all_study_summaries(open_storage(storage), include_best_trial=False):
            attrs = summary.user_attrs
            if summary.study_name == study_id and CONFIG_ATTR in attrs:
                config = StudyConfig.model_validate(attrs[CONFIG_ATTR])
                return str(attrs.get(NAME_ATTR)), config, str(attrs.get(STATE_ATTR, RUNNING))
        return None

    def reopen(self) -> None:
        """Mark the study running again (it is being resumed)."""
        self.study.set_user_attr(STATE_ATTR, RUNNING)
        self.ended = False

    def fail_orphans(self, in_flight: set[int]) -> int:
        """Fail RUNNING trials that no trial in flight owns: left by an ``ask`` that storage broke
        half-way (e.g. during a database restart). Returns how many were failed."""
        orphans = [n for n in self.running_numbers() if n not in in_flight]
        for number in orphans:
            self.tell_failed(number, "orphaned: created while storage was failing, never handed to a trainer")
        return len(orphans)

    def mark_ended(self, state: str) -> None:
        self.study.set_user_attr(STATE_ATTR, state)

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def stored_trials(self) -> list[StoredTrial]:
        """The durable trials as the scheduler's decisions read them (``StudyRun.resume``)."""
        return [
            StoredTrial(
                number=trial.number,
                state=_STORED_STATES.get(trial.state, StoredState.FAILED),
                params=dict(trial.params),
                trial_id=str(trial.user_attrs["trial_id"]) if "trial_id" in trial.user_attrs else None,
                attempt=int(trial.user_attrs.get("attempt", 1)),
            )
            for trial in self.trials()
        ]

    def ask(
        self, fixed_params: dict[str, Any] | None = None, *, trial_id: str | None = None, attempt: int = 1
    ) -> AskedTrial:
        """A new trial; ``fixed_params`` replays given values (retries of a lost trial). The trial id and
        attempt are stored with it, so that a restarted scheduler can take the trial up again."""
        if fixed_params is not None:
            self._sampling.enqueue_trial(fixed_params, skip_if_exists=False)
        sampling = self._sampling.ask(self._distributions)
        if trial_id is not None:
            sampling.set_user_attr("trial_id", trial_id)
            sampling.set_user_attr("attempt", attempt)
        template = frozen(self._sampling, trial_id_of(sampling))
        try:
            durable_id, number = self._record.create(template)
        except Exception:
            self._sampling.tell(sampling, state=OptunaState.FAIL)  # never ran: the sampler must not wait on it
            raise
        self._live[number] = _LiveTrial(durable_id, sampling)
        self._durable_number[sampling.number] = number
        return AskedTrial(number=number, params=dict(sampling.params))

    def report(self, number: int, epoch: int, value: float) -> bool:
        """Record an epoch's intermediate value; True when the pruner says to stop this trial."""
        live = self._live.get(number)
        if live is None:
            return False
        self._record.report(live.durable_id, epoch, value)
        if self.multi_objective:
            return False
        live.sampling.report(value, step=epoch)
        return bool(live.sampling.should_prune())

    def tell_completed(self, number: int, score: float | list[float], attrs: dict[str, Any] | None = None) -> None:
        """``score``: the one value, or one per objective in a multi-objective study."""
        self._tell(number, OptunaState.COMPLETE, score, attrs)

    def tell_pruned(self, number: int, attrs: dict[str, Any] | None = None) -> None:
        self._tell(number, OptunaState.PRUNED, None, attrs)

    def tell_failed(self, number: int, reason: str) -> None:
        self._tell(number, OptunaState.FAIL, None, {"fail_reason": reason})

    def best(self) -> optuna.trial.FrozenTrial | None:
        """The best completed trial (numbered as in durable storage), from the in-memory copy."""
        completed = self._sampling.get_trials(deepcopy=False, states=(OptunaState.COMPLETE,))
        if not completed:
            return None
        if self.multi_objective:
            points = [ParetoPoint(t.number, t.values[0], t.values[1]) for t in completed if t.values]
            chosen = knee(points)
            if chosen is None:
                return None
            best = copy.deepcopy(next(t for t in completed if t.number == chosen.number))
        else:
            best = copy.deepcopy(max(completed, key=lambda t: t.value if t.value is not None else float("-inf")))
        best.number = self._durable_number[best.number]
        return best

    def best_score(self, best: optuna.trial.FrozenTrial) -> float | None:
        """The one number that stands for ``best``: its value, or its objective score in a pareto study."""
        if not best.values:
            return None
        return float(best.values[0])

    def running_numbers(self) -> list[int]:
        """RUNNING trials in durable storage (one query)."""
        return self._record.running_numbers()

    def _tell(
        self, number: int, state: OptunaState, value: float | list[float] | None, attrs: dict[str, Any] | None
    ) -> None:
        live = self._live.get(number)
        durable_id = live.durable_id if live else self._running_durable_id(number)
        if durable_id is None:
            log.info("trial %d already finished in storage; tell ignored", number)
            return
        try:
            self._record.finish(durable_id, state, value if state is OptunaState.COMPLETE else None, attrs or {})
        except UpdateFinishedTrialError:
            log.info("trial %d already finished in storage; tell ignored", number)
        if live is not None:
            for key, attr in (attrs or {}).items():
                live.sampling.set_user_attr(key, attr)
            self._sampling.tell(live.sampling, value if state is OptunaState.COMPLETE else None, state=state)
            del self._live[number]

    def _running_durable_id(self, number: int) -> int | None:
        """A RUNNING trial the sampling copy does not know: an orphan of a half-failed ask."""
        return self._record.running_ids().get(number)
