"""How the reporter re-derives a trial's score from what the read model holds (``contracts.scoring``).

The score needs the final metrics and, in health mode, the final health assessment; the two arrive
in either order, so ``score_trial`` is asked again whenever one of them lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from contracts.enums import HEALTH_MODES, HEALTH_ONLY_OBJECTIVES, Mode, Objective, TrialState
from contracts.health import HealthAssessment
from contracts.scoring import ScoreBreakdown, blended_score
from contracts.study import DEFAULT_HEALTH_WEIGHT, StudyConfig
from contracts.telemetry import TrialMetrics
from services.runtime.db.records import StudyRecord, TrialRecord


@dataclass(frozen=True, slots=True)
class ScoringRule:
    """What a study optimizes and how it blends health in."""

    objective: Objective
    mode: Mode
    health_weight: float

    @classmethod
    def of(cls, study: StudyRecord) -> ScoringRule:
        config = study_config(study)
        if config is not None:
            return cls(config.optimize_for, config.mode, config.health_weight)
        weight = study.config.get("health_weight", DEFAULT_HEALTH_WEIGHT)
        return cls(
            Objective(study.objective or Objective.VAL_ACCURACY),
            Mode(study.mode or Mode.HEALTH),
            float(weight) if isinstance(weight, int | float) else DEFAULT_HEALTH_WEIGHT,
        )


def study_config(study: StudyRecord) -> StudyConfig | None:
    """The study's ``StudyConfig``, or None when the stored JSON is missing or unreadable."""
    if not study.config:
        return None
    try:
        return StudyConfig.model_validate(study.config)
    except ValidationError:
        return None


def trial_metrics(trial: TrialRecord) -> TrialMetrics | None:
    if not trial.metrics:
        return None
    try:
        return TrialMetrics.model_validate(trial.metrics)
    except ValidationError:
        return None


def latest_assessment(trial: TrialRecord) -> HealthAssessment | None:
    """The newest health assessment stored for the trial (running or final)."""
    if not trial.health:
        return None
    try:
        return HealthAssessment.model_validate(trial.health)
    except ValidationError:
        return None


def is_health_final(trial: TrialRecord) -> bool:
    return bool(trial.health and trial.health.get("final"))


def final_assessment(trial: TrialRecord) -> HealthAssessment | None:
    return latest_assessment(trial) if is_health_final(trial) else None


def score_trial(trial: TrialRecord, rule: ScoringRule) -> ScoreBreakdown | None:
    """The trial's score breakdown, or None while it cannot be computed (not completed, metrics
    missing, or the final health assessment still missing where the score needs it)."""
    if trial.state != TrialState.COMPLETED:
        return None
    metrics = trial_metrics(trial)
    if metrics is None:
        return None
    health = final_assessment(trial)
    if health is None and (rule.mode in HEALTH_MODES or rule.objective in HEALTH_ONLY_OBJECTIVES):
        return None
    return blended_score(rule.objective, rule.mode, rule.health_weight, metrics, health)


def why_unscored(trial: TrialRecord, rule: ScoringRule) -> str:
    """One line saying why ``score_trial`` gives None for this trial."""
    if trial.state == TrialState.PRUNED:
        return f"pruned after epoch {trial.epochs_trained}" + (f": {trial.reason}" if trial.reason else "")
    if trial.state == TrialState.FAILED:
        return f"failed: {trial.reason or 'no reason given'}"
    if trial.state != TrialState.COMPLETED:
        return f"still {trial.state}"
    if trial_metrics(trial) is None:
        return "completed without metrics"
    return "waiting for the final health assessment"
