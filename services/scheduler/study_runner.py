"""The Optuna side of one study, callable without any broker: ask, report, prune, tell.

The scheduler is the only writer of Optuna storage. Trials are addressed by Optuna trial number;
the transport layer maps its trial ids to numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState as OptunaState

from contracts.study import StudyConfig
from services.scheduler.pruning import build_pruner
from services.scheduler.samplers import build_sampler
from services.scheduler.search_space import to_distributions

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)

CONFIG_ATTR, NAME_ATTR, STATE_ATTR = "hpo_config", "hpo_study_name", "hpo_state"
RUNNING = "running"


def open_storage(storage: str | optuna.storages.BaseStorage) -> str | optuna.storages.BaseStorage:
    """Server databases get ``pool_pre_ping``: a restarted Postgres does not fail the next query."""
    if isinstance(storage, str) and not storage.startswith("sqlite"):
        return optuna.storages.RDBStorage(storage, engine_kwargs={"pool_pre_ping": True})
    return storage


@dataclass(frozen=True)
class AskedTrial:
    number: int
    params: dict[str, Any]


class StudyRunner:
    """Ask/tell over Optuna storage for one study; every study maximizes its score."""

    def __init__(
        self,
        study_id: str,
        config: StudyConfig,
        storage: str | optuna.storages.BaseStorage,
        *,
        display_name: str = "",
    ) -> None:
        self.config = config
        self._space = config.effective_search_space()
        self._distributions = to_distributions(self._space)
        self.study = optuna.create_study(
            study_name=study_id,
            storage=open_storage(storage),
            direction="maximize",
            sampler=build_sampler(config.sampler, self._space, seed=config.seed, parallel=config.parallelism > 1),
            pruner=build_pruner(config.pruner, trials=config.trials, max_epochs=config.max_epochs),
            load_if_exists=True,
        )
        self._open: dict[int, optuna.Trial] = {}
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

    def ask(
        self, fixed_params: dict[str, Any] | None = None, *, trial_id: str | None = None, attempt: int = 1
    ) -> AskedTrial:
        """A new trial; ``fixed_params`` replays given values (retries of a lost trial). The trial id and
        attempt are stored with it, so that a restarted scheduler can take the trial up again."""
        if fixed_params is not None:
            self.study.enqueue_trial(fixed_params, skip_if_exists=False)
        trial = self.study.ask(self._distributions)
        if trial_id is not None:
            trial.set_user_attr("trial_id", trial_id)
            trial.set_user_attr("attempt", attempt)
        self._open[trial.number] = trial
        return AskedTrial(number=trial.number, params=dict(trial.params))

    def report(self, number: int, epoch: int, value: float) -> bool:
        """Record an epoch's intermediate value; True when the pruner says to stop this trial."""
        trial = self._trial(number)
        if trial is None:
            return False
        trial.report(value, step=epoch)
        return bool(trial.should_prune())

    def tell_completed(self, number: int, score: float, attrs: dict[str, Any] | None = None) -> None:
        self._tell(number, OptunaState.COMPLETE, score, attrs)

    def tell_pruned(self, number: int, attrs: dict[str, Any] | None = None) -> None:
        self._tell(number, OptunaState.PRUNED, None, attrs)

    def tell_failed(self, number: int, reason: str) -> None:
        self._tell(number, OptunaState.FAIL, None, {"fail_reason": reason})

    def best(self) -> optuna.trial.FrozenTrial | None:
        completed = [t for t in self.study.get_trials(deepcopy=False) if t.state is OptunaState.COMPLETE]
        if not completed:
            return None
        return max(completed, key=lambda t: t.value if t.value is not None else float("-inf"))

    def running_numbers(self) -> list[int]:
        return [t.number for t in self.study.get_trials(deepcopy=False, states=(OptunaState.RUNNING,))]

    def _trial(self, number: int) -> optuna.Trial | None:
        trial = self._open.get(number)
        if trial is None:
            frozen = [t for t in self.study.get_trials(deepcopy=False) if t.number == number]
            if not frozen or frozen[0].state is not OptunaState.RUNNING:
                return None
            trial = optuna.Trial(self.study, frozen[0]._trial_id)
            self._open[number] = trial
        return trial

    def _tell(self, number: int, state: OptunaState, value: float | None, attrs: dict[str, Any] | None) -> None:
        trial = self._trial(number)
        if trial is None:
            log.info("trial %d already finished in storage; tell ignored", number)
            return
        for key, attr in (attrs or {}).items():
            trial.set_user_attr(key, attr)
        self.study.tell(trial, value if state is OptunaState.COMPLETE else None, state=state)
        self._open.pop(number, None)
