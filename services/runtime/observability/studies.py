"""The scheduler's metrics: studies by state, trials by state, best score so far, trial durations.

Per-study series (``study`` label) are kept while the study runs and ``ENDED_STUDY_TTL_SECONDS`` after
it ends, for at most ``MAX_ENDED_STUDIES`` ended studies; ``hpo_study_started_timestamp_seconds``
goes at once when the study ends (it marks the studies running now).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.enums import StudyState
from services.runtime.observability.series import Clock, StudySeries

TRIAL_STATES = ("requested", "started", "completed", "pruned", "failed")
FINISHED_STUDY_STATES = tuple(state.value for state in StudyState if state is not StudyState.RUNNING)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
ENDED_STUDY_TTL_SECONDS = 600.0
MAX_ENDED_STUDIES = 10
IDLE_STUDY_SECONDS = 7 * 24 * 3600.0  # a running study is never idle-expired in practice


class StudyMetrics:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        ended_ttl_seconds: float = ENDED_STUDY_TTL_SECONDS,
        max_ended_studies: int = MAX_ENDED_STUDIES,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.running = Gauge("hpo_studies_running", "Studies running now.", registry=r)
        self.ended = Counter("hpo_studies_ended", "Studies ended, by final state.", ["state"], registry=r)
        self.trials = Counter("hpo_trials", "Trials by state, every study together.", ["state"], registry=r)
        self.trial_seconds = Histogram(
            "hpo_trial_duration_seconds", "Training time of completed trials.", buckets=DURATION_BUCKETS, registry=r
        )
        self.info = Gauge("hpo_study_info", "1 per known study, naming it.", ["study", "study_name"], registry=r)
        self.started_at = Gauge(
            "hpo_study_started_timestamp_seconds", "When a running study started (or resumed).", ["study"], registry=r
        )
        self.study_trials = Counter("hpo_study_trials", "Trials of a study by state.", ["study", "state"], registry=r)
        self.best_score = Gauge("hpo_study_best_score", "Best score so far of a study.", ["study"], registry=r)
        for state in FINISHED_STUDY_STATES:
            self.ended.labels(state)
        for state in TRIAL_STATES:
            self.trials.labels(state)
        self._series = StudySeries(
            max_studies=max_ended_studies,
            idle_seconds=IDLE_STUDY_SECONDS,
            ended_ttl_seconds=ended_ttl_seconds,
            evict_running=False,
            clock=clock,
        )
        self._wall_clock = wall_clock
        self._running: set[str] = set()
        self._best: dict[str, float] = {}

    def study_started(self, study: str, name: str, best_score: float | None = None) -> None:
        """A study runs here (created, resumed, or taken up after a restart)."""
        self._series.labels(self.info, study, name).set(1)
        self._series.labels(self.started_at, study).set(self._wall_clock())
        for state in TRIAL_STATES:
            self._series.labels(self.study_trials, study, state)
        if best_score is not None:
            self._record_best(study, best_score)
        self._running.add(study)
        self.running.set(len(self._running))

    def trial(self, study: str, state: str) -> None:
        """A trial of ``study`` was requested, started, pruned or failed (completed: ``trial_completed``)."""
        self.trials.labels(state).inc()
        self._series.labels(self.study_trials, study, state).inc()

    def trial_completed(self, study: str, score: float, training_seconds: float) -> None:
        self.trial(study, "completed")
        self.trial_seconds.observe(training_seconds)
        self._record_best(study, score)

    def study_ended(self, study: str, state: StudyState) -> None:
        self.ended.labels(state.value).inc()
        self._running.discard(study)
        self.running.set(len(self._running))
        self._series.forget(study, only=[self.started_at])
        self._series.end(study)
        self._best.pop(study, None)

    def _record_best(self, study: str, score: float) -> None:
        best = max(score, self._best.get(study, score))
        self._best[study] = best
        self._series.labels(self.best_score, study).set(best)
