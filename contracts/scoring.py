"""How a trial's figures become the one number Optuna maximizes.

Every objective has a *raw value* (what a person reads) and an ``objective_score`` in [0, 1]
(higher is better), so every study maximizes:

=====================  ==============================  =========================================
objective              raw value                       objective_score
=====================  ==============================  =========================================
val_accuracy           validation accuracy             the raw value
accuracy               training accuracy               the raw value
training_time          training seconds (minimized)    ``1 / (1 + seconds / 60)``: 60 s -> 0.5
parameter_efficiency   val accuracy per 1M parameters  ``val_acc / (1 + log10(1 + params / 1e5))``
memory_efficiency      val accuracy per GB of memory   ``val_acc / (1 + log10(1 + memory_mb / 10))``
overall_health         overall health                  the raw value
neuron_utilization     neuron utilization component    the raw value
training_stability     training stability component    the raw value
=====================  ==============================  =========================================

Simple mode: ``score = objective_score``. Health mode:
``score = (1 - health_weight) * objective_score + health_weight * overall_health``. Pareto mode: Optuna
maximizes ``(objective_score, overall_health)`` as two objectives; ``score = objective_score`` orders
tables, and the recommended trial is the front's knee (``contracts.pareto``).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from contracts.enums import HEALTH_MODES, Mode, Objective
from contracts.health import HealthAssessment
from contracts.telemetry import TrialMetrics


class ScoreBreakdown(BaseModel):
    """The blended score and every number that went into it."""

    model_config = ConfigDict(frozen=True)

    objective: Objective
    mode: Mode
    raw_value: float
    objective_score: float
    overall_health: float | None
    health_weight: float
    score: float

    def formula(self) -> str:
        if self.mode is Mode.PARETO and self.overall_health is not None:
            return (
                f"pareto objectives = (objective_score({self.objective.value}), overall_health)"
                f" = ({self.objective_score:.4f}, {self.overall_health:.4f})"
            )
        if self.mode is not Mode.HEALTH or self.overall_health is None:
            return f"score = objective_score({self.objective.value}) = {self.objective_score:.4f}"
        w = self.health_weight
        return (
            f"score = (1 - {w:.2f}) x {self.objective_score:.4f} + {w:.2f} x {self.overall_health:.4f}"
            f" = {self.score:.4f}"
        )


def raw_value(objective: Objective, metrics: TrialMetrics, health: HealthAssessment | None) -> float:
    """The objective as a person reads it."""
    if objective is Objective.VAL_ACCURACY:
        return metrics.val_accuracy
    if objective is Objective.ACCURACY:
        return metrics.accuracy
    if objective is Objective.TRAINING_TIME:
        return metrics.training_seconds
    if objective is Objective.PARAMETER_EFFICIENCY:
        return metrics.val_accuracy / max(metrics.parameter_count / 1e6, 1e-9)
    if objective is Objective.MEMORY_EFFICIENCY:
        return metrics.val_accuracy / max(metrics.memory_mb / 1024.0, 1e-9)
    if health is None:
        raise ValueError(f"objective {objective.value} needs a health assessment")
    if objective is Objective.OVERALL_HEALTH:
        return health.overall_health
    if objective is Objective.NEURON_UTILIZATION:
        return health.components.neuron_utilization
    return health.components.training_stability


def objective_score(objective: Objective, metrics: TrialMetrics, health: HealthAssessment | None) -> float:
    """The objective mapped to [0, 1], higher is better (table in the module docstring)."""
    value = raw_value(objective, metrics, health)
    if objective is Objective.TRAINING_TIME:
        score = 1.0 / (1.0 + max(value, 0.0) / 60.0)
    elif objective is Objective.PARAMETER_EFFICIENCY:
        score = metrics.val_accuracy / (1.0 + math.log10(1.0 + metrics.parameter_count / 1e5))
    elif objective is Objective.MEMORY_EFFICIENCY:
        score = metrics.val_accuracy / (1.0 + math.log10(1.0 + metrics.memory_mb / 10.0))
    else:
        score = value
    return min(max(score, 0.0), 1.0)


def blended_score(
    objective: Objective,
    mode: Mode,
    health_weight: float,
    metrics: TrialMetrics,
    health: HealthAssessment | None,
) -> ScoreBreakdown:
    """The value Optuna maximizes for one finished trial, with its derivation."""
    obj_score = objective_score(objective, metrics, health)
    overall = health.overall_health if health is not None else None
    if mode in HEALTH_MODES and overall is None:
        raise ValueError(f"{mode.value} mode needs a health assessment to score a trial")
    if mode is Mode.HEALTH and overall is not None:
        score = (1.0 - health_weight) * obj_score + health_weight * overall
    else:
        score = obj_score
    return ScoreBreakdown(
        objective=objective,
        mode=mode,
        raw_value=raw_value(objective, metrics, health),
        objective_score=obj_score,
        overall_health=overall,
        health_weight=health_weight if mode is Mode.HEALTH else 0.0,
        score=score,
    )
