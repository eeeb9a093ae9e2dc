"""The health service's memory: each running trial's epochs and the alerts already published.

Bounded: a trial is dropped when it ends (completed, pruned, failed), and when more than
``max_trials`` trials are tracked the least recently updated one is dropped (its end was lost).
Recently ended trial ids are remembered (bounded too) so that a late epoch event does not bring a
finished trial back.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from contracts.telemetry import EpochTelemetry
from services.health.alerts import AlertKey

log = logging.getLogger(__name__)

DEFAULT_MAX_TRIALS = 1000
DEFAULT_MAX_FINISHED = 10_000


@dataclass
class TrialHistory:
    """One trial's epochs in ascending order (one entry per epoch number) and its published alerts."""

    trial_id: str
    trial_number: int
    study_id: str = ""
    epochs: list[EpochTelemetry] = field(default_factory=list)
    alerted: set[AlertKey] = field(default_factory=set)

    def add(self, telemetry: EpochTelemetry) -> None:
        """Insert an epoch in order; a repeated epoch number replaces the earlier entry."""
        kept = [e for e in self.epochs if e.epoch != telemetry.epoch]
        kept.append(telemetry)
        kept.sort(key=lambda e: e.epoch)
        self.epochs = kept


class HealthState:
    """Per-trial histories keyed by the envelope's ``trial_id``."""

    def __init__(self, max_trials: int = DEFAULT_MAX_TRIALS, max_finished: int = DEFAULT_MAX_FINISHED) -> None:
        if max_trials < 1 or max_finished < 0:
            raise ValueError("max_trials must be >= 1 and max_finished >= 0")
        self._max_trials = max_trials
        self._max_finished = max_finished
        self._trials: OrderedDict[str, TrialHistory] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._trials)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._trials

    def get(self, trial_id: str) -> TrialHistory | None:
        return self._trials.get(trial_id)

    def is_finished(self, trial_id: str) -> bool:
        return trial_id in self._finished

    def belongs(self, trial_id: str, study_id: str) -> bool:
        """False when the trial is tracked under another study (an event naming the wrong study is ignored)."""
        trial = self._trials.get(trial_id)
        return trial is None or trial.study_id == study_id

    def record(
        self, trial_id: str, trial_number: int, telemetry: EpochTelemetry, study_id: str = ""
    ) -> TrialHistory | None:
        """Add one epoch to a trial's history; ``None`` (nothing recorded) when the trial already ended or is
        tracked under another study."""
        if trial_id in self._finished or not self.belongs(trial_id, study_id):
            return None
        trial = self._trials.get(trial_id)
        if trial is None:
            trial = self._trials[trial_id] = TrialHistory(trial_id, trial_number, study_id)
        self._trials.move_to_end(trial_id)
        trial.add(telemetry)
        while len(self._trials) > self._max_trials:
            dropped, _ = self._trials.popitem(last=False)
            log.warning("health: tracking more than %d trials, dropped the history of %s", self._max_trials, dropped)
        return trial

    def finish(self, trial_id: str) -> TrialHistory | None:
        """Forget a trial that ended and remember that it did; returns its history, if any."""
        trial = self._trials.pop(trial_id, None)
        self._finished[trial_id] = None
        self._finished.move_to_end(trial_id)
        while len(self._finished) > self._max_finished:
            self._finished.popitem(last=False)
        return trial
