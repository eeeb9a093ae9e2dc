"""The scheduler's decisions about one study, as plain code: no bus, no database, no Optuna.

``StudyRun`` is what the scheduler remembers of a running study (its trials in flight and the
counts of finished ones) and answers the questions the handlers ask: how many trials to request
now, whether the study is done and why, what a silent trainer's trial becomes, how a study
resumed from storage counts its trials. The handlers load the run, ask it, and publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.enums import StudyState
from contracts.health import HealthAssessment
from contracts.study import StudyConfig
from contracts.telemetry import TrialMetrics
from services.scheduler.health_pruning import EpochSignals


@dataclass(frozen=True)
class SchedulingPolicy:
    """The scheduler-wide limits every study is run under (from ``SchedulerSettings``)."""

    queue_ahead: float = 0.25
    """Trials requested beyond the study's parallelism, per parallel slot (rounded down)."""
    max_trial_factor: int = 3
    """A study gives up after ``trials x max_trial_factor`` attempts."""


@dataclass
class TrialInFlight:
    trial_id: str
    number: int
    params: dict[str, Any]
    attempt: int = 1
    started: bool = False
    prune_sent: bool = False
    metrics: TrialMetrics | None = None
    final_health: HealthAssessment | None = None
    signals: list[EpochSignals] = field(default_factory=list)
    """What the health pruner has read of each epoch so far (``pruner=health``)."""


class TrialEnd(StrEnum):
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"


class StoredState(StrEnum):
    """A trial's state as durable storage keeps it."""

    RUNNING = "running"
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"
    WAITING = "waiting"


@dataclass(frozen=True)
class StoredTrial:
    """One trial of a study read back from storage (after a scheduler restart)."""

    number: int
    state: StoredState
    params: dict[str, Any] = field(default_factory=dict)
    trial_id: str | None = None
    attempt: int = 1


@dataclass(frozen=True)
class Completion:
    """How a study ended, and why."""

    state: StudyState
    reason: str = ""


@dataclass(frozen=True)
class LostAttempt:
    """An attempt that ended without a result (its trainer went silent, or handed it back): it is failed with
    ``reason``; ``retry`` says whether to ask for the trial again."""

    trial: TrialInFlight
    reason: str
    retry: bool


@dataclass
class StudyRun:
    study_id: str
    study_name: str
    config: StudyConfig
    policy: SchedulingPolicy = field(default_factory=SchedulingPolicy)
    in_flight: dict[str, TrialInFlight] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    asked: int = 0
    stopping: bool = False
    stop_reason: str = ""
    done: bool = False

    @property
    def counted(self) -> int:
        """Finished trials as the ``trials`` setting counts them: completed plus pruned."""
        return self.completed + self.pruned

    @property
    def max_attempts(self) -> int:
        return self.config.trials * self.policy.max_trial_factor

    @property
    def trial_ids(self) -> set[str]:
        """Every trial id this run has handed out, in flight or finished."""
        return set(self.in_flight) | self.finished

    def trials_to_request(self) -> int:
        """How many new trials to request now: up to the parallelism (plus the queue-ahead share), never
        more than the study still needs, never beyond its attempt budget, none once stopping or done."""
        if self.stopping or self.done:
            return 0
        parallelism = self.config.parallelism
        requested_at_most = parallelism + int(parallelism * self.policy.queue_ahead)
        room = requested_at_most - len(self.in_flight)
        needed = self.config.trials - self.counted - len(self.in_flight)
        budget = self.max_attempts - self.asked
        return max(0, min(room, needed, budget))

    def track(self, trial: TrialInFlight) -> None:
        """A trial was asked and requested."""
        self.in_flight[trial.trial_id] = trial
        self.asked += 1

    def close(self, trial_id: str, end: TrialEnd) -> TrialInFlight | None:
        """A trial in flight ended; None when it was not in flight (a late or repeated event)."""
        trial = self.in_flight.pop(trial_id, None)
        if trial is None:
            return None
        self.finished.add(trial_id)
        if end is TrialEnd.COMPLETED:
            self.completed += 1
        elif end is TrialEnd.PRUNED:
            self.pruned += 1
        else:
            self.failed += 1
        return trial

    def request_stop(self, reason: str) -> list[TrialInFlight]:
        """Stop asking for trials; the trials in flight are to be told to stop."""
        self.stopping = True
        self.stop_reason = reason
        return list(self.in_flight.values())

    def expire(self, trial_id: str, lease_seconds: float) -> LostAttempt | None:
        """The lease of ``trial_id`` ran out: fail it, and retry it (same parameters) while attempts remain."""
        trial = self.in_flight.get(trial_id)
        if trial is None:
            return None
        self.close(trial_id, TrialEnd.FAILED)
        reason = f"trainer went silent for {lease_seconds:.0f}s (attempt {trial.attempt})"
        retry = trial.attempt <= self.config.max_retries and not self.stopping
        return LostAttempt(trial, reason, retry)

    def hand_back(self, trial_id: str, reason: str) -> LostAttempt | None:
        """A trainer handed ``trial_id`` back unfinished (it was shutting down): fail this attempt and ask for the
        trial again, unless the study is stopping. Not bounded by ``max_retries``: the trial did not fail."""
        trial = self.in_flight.get(trial_id)
        if trial is None:
            return None
        self.close(trial_id, TrialEnd.FAILED)
        return LostAttempt(trial, reason, retry=not self.stopping)

    def completion(self) -> Completion | None:
        """The study's end once nothing is in flight: stopped, completed, or failed for lack of attempts.
        None while it goes on. Marks the run done when it returns an end."""
        if self.done or self.in_flight:
            return None
        if self.stopping:
            end = Completion(StudyState.STOPPED, self.stop_reason)
        elif self.counted >= self.config.trials:
            end = Completion(StudyState.COMPLETED)
        elif self.asked >= self.max_attempts:
            end = Completion(StudyState.FAILED, f"{self.failed} of {self.asked} trials failed; giving up")
        else:
            return None
        self.done = True
        return end

    def resume(self, stored: Iterable[StoredTrial]) -> list[int]:
        """Count the trials a restarted scheduler finds in storage. RUNNING trials with a trial id go back in
        flight (their trainer's events continue them, or their lease expires); RUNNING trials without one
        were never handed to a trainer: their numbers are returned, to be failed, and they count as failed."""
        lost: list[int] = []
        for trial in stored:
            self.asked += 1
            if trial.state is StoredState.COMPLETED:
                self.completed += 1
            elif trial.state is StoredState.PRUNED:
                self.pruned += 1
            elif trial.state is StoredState.FAILED:
                self.failed += 1
            elif trial.state is StoredState.RUNNING and trial.trial_id is not None:
                self.in_flight[trial.trial_id] = TrialInFlight(
                    trial.trial_id, trial.number, dict(trial.params), trial.attempt, started=True
                )
            elif trial.state is StoredState.RUNNING:
                self.failed += 1
                lost.append(trial.number)
        return lost
