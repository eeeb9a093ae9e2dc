"""The studies a scheduler is running, found by study id or by trial id; finished ones are let go.

A study that ends is evicted with every trial id it handed out, so a scheduler that runs for months
holds only its running studies. The ids of the last ``finished_kept`` ended studies are remembered,
so that late events for them (a redelivered request, a frozen trainer's result) are recognised and
a repeated ``study.created`` does not start a study again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.scheduler.study_state import StudyRun

R = TypeVar("R")

FINISHED_KEPT = 10_000


@dataclass
class ActiveStudy(Generic[R]):
    run: StudyRun
    runner: R
    """What asks and tells for this study (the Optuna side; any object in tests)."""


class StudyRegistry(Generic[R]):
    def __init__(self, finished_kept: int = FINISHED_KEPT) -> None:
        self._finished_kept = finished_kept
        self._active: dict[str, ActiveStudy[R]] = {}
        self._by_trial: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()

    def add(self, run: StudyRun, runner: R) -> ActiveStudy[R]:
        """Run a study here (a resumed one stops counting as finished)."""
        self._finished.pop(run.study_id, None)
        study = self._active[run.study_id] = ActiveStudy(run, runner)
        for trial_id in run.trial_ids:
            self._by_trial[trial_id] = run.study_id
        return study

    def get(self, study_id: str) -> ActiveStudy[R] | None:
        return self._active.get(study_id)

    def knows(self, study_id: str) -> bool:
        """Running here, or ended recently."""
        return study_id in self._active or study_id in self._finished

    def is_finished(self, study_id: str) -> bool:
        return study_id in self._finished

    def index_trial(self, trial_id: str, study_id: str) -> None:
        self._by_trial[trial_id] = study_id

    def of_trial(self, trial_id: str) -> ActiveStudy[R] | None:
        study_id = self._by_trial.get(trial_id)
        return self._active.get(study_id) if study_id is not None else None

    def evict(self, study_id: str) -> None:
        """The study ended: forget its run, its runner and its trial ids; remember only its id."""
        study = self._active.pop(study_id, None)
        if study is not None:
            for trial_id in study.run.trial_ids:
                self._by_trial.pop(trial_id, None)
        self._finished[study_id] = None
        self._finished.move_to_end(study_id)
        while len(self._finished) > self._finished_kept:
            self._finished.popitem(last=False)

    def active(self) -> list[ActiveStudy[R]]:
        return list(self._active.values())

    def sizes(self) -> dict[str, int]:
        """What is held in memory: running studies, indexed trial ids, remembered finished study ids."""
        return {"active": len(self._active), "trials": len(self._by_trial), "finished": len(self._finished)}
