"""Scoring: each objective's [0, 1] mapping, the health blend, and the printed formula."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from contracts.enums import HEALTH_ONLY_OBJECTIVES, Mode, Objective
from contracts.health import HealthAssessment
from contracts.scoring import ScoreBreakdown, blended_score, objective_score, raw_value
from contracts.telemetry import TrialMetrics

Metrics = Callable[..., TrialMetrics]
Health = Callable[..., HealthAssessment]


def test_accuracy_objectives_score_their_raw_value(metrics: Metrics) -> None:
    m = metrics(val_accuracy=0.81, accuracy=0.93)
    assert raw_value(Objective.VAL_ACCURACY, m, None) == 0.81
    assert objective_score(Objective.VAL_ACCURACY, m, None) == 0.81
    assert raw_value(Objective.ACCURACY, m, None) == 0.93
    assert objective_score(Objective.ACCURACY, m, None) == 0.93


@pytest.mark.parametrize(("seconds", "expected"), [(0.0, 1.0), (60.0, 0.5), (180.0, 0.25), (-5.0, 1.0)])
def test_training_time_score(metrics: Metrics, seconds: float, expected: float) -> None:
    m = metrics(training_seconds=seconds)
    assert raw_value(Objective.TRAINING_TIME, m, None) == seconds
    assert objective_score(Objective.TRAINING_TIME, m, None) == pytest.approx(expected)


def test_training_time_score_falls_as_time_grows(metrics: Metrics) -> None:
    times = [0.0, 0.5, 1.0, 10.0, 59.0, 60.0, 61.0, 600.0, 3600.0, 86_400.0]
    scores = [objective_score(Objective.TRAINING_TIME, metrics(training_seconds=t), None) for t in times]
    assert all(earlier > later for earlier, later in itertools.pairwise(scores))
    assert all(0.0 < s <= 1.0 for s in scores)


@pytest.mark.parametrize(("params", "divisor"), [(0, 1.0), (900_000, 2.0), (9_900_000, 3.0)])
def test_parameter_efficiency_score(metrics: Metrics, params: int, divisor: float) -> None:
    m = metrics(val_accuracy=0.8, parameter_count=params)
    assert objective_score(Objective.PARAMETER_EFFICIENCY, m, None) == pytest.approx(0.8 / divisor)


def test_parameter_efficiency_raw_value_is_accuracy_per_million_parameters(metrics: Metrics) -> None:
    assert raw_value(Objective.PARAMETER_EFFICIENCY, metrics(val_accuracy=0.8, parameter_count=400_000), None) == (
        pytest.approx(2.0)
    )
    assert math.isfinite(raw_value(Objective.PARAMETER_EFFICIENCY, metrics(parameter_count=0), None))


@pytest.mark.parametrize(("memory_mb", "divisor"), [(0.0, 1.0), (90.0, 2.0), (990.0, 3.0)])
def test_memory_efficiency_score(metrics: Metrics, memory_mb: float, divisor: float) -> None:
    m = metrics(val_accuracy=0.6, memory_mb=memory_mb)
    assert objective_score(Objective.MEMORY_EFFICIENCY, m, None) == pytest.approx(0.6 / divisor)


def test_memory_efficiency_raw_value_is_accuracy_per_gigabyte(metrics: Metrics) -> None:
    assert raw_value(Objective.MEMORY_EFFICIENCY, metrics(val_accuracy=0.5, memory_mb=512.0), None) == (
        pytest.approx(1.0)
    )
    assert math.isfinite(raw_value(Objective.MEMORY_EFFICIENCY, metrics(memory_mb=0.0), None))


@pytest.mark.parametrize("objective", [Objective.PARAMETER_EFFICIENCY, Objective.MEMORY_EFFICIENCY])
def test_efficiency_scores_fall_as_the_model_grows(metrics: Metrics, objective: Objective) -> None:
    sizes = [0, 10, 1_000, 100_000, 10_000_000]
    scores = [objective_score(objective, metrics(parameter_count=size, memory_mb=float(size)), None) for size in sizes]
    assert all(earlier > later for earlier, later in itertools.pairwise(scores))


def test_health_objectives_read_the_assessment(metrics: Metrics, health: Health) -> None:
    h = health(overall=0.7, neuron_utilization=0.2, training_stability=0.9)
    m = metrics()
    assert objective_score(Objective.OVERALL_HEALTH, m, h) == 0.7
    assert objective_score(Objective.NEURON_UTILIZATION, m, h) == 0.2
    assert objective_score(Objective.TRAINING_STABILITY, m, h) == 0.9


@pytest.mark.parametrize("objective", sorted(HEALTH_ONLY_OBJECTIVES))
def test_health_objectives_need_an_assessment(metrics: Metrics, objective: Objective) -> None:
    with pytest.raises(ValueError, match=objective.value):
        objective_score(objective, metrics(), None)


@pytest.mark.parametrize("objective", list(Objective))
def test_every_objective_score_stays_in_zero_one(metrics: Metrics, health: Health, objective: Objective) -> None:
    for m in (
        metrics(val_accuracy=1.4, accuracy=1.2, training_seconds=-1.0, parameter_count=0, memory_mb=0.0),
        metrics(val_accuracy=-0.2, accuracy=-0.1, training_seconds=1e9, parameter_count=10**9, memory_mb=1e9),
    ):
        assert 0.0 <= objective_score(objective, m, health()) <= 1.0


@pytest.mark.parametrize(
    ("weight", "objective_part", "overall", "expected"),
    [(0.3, 0.8, 0.6, 0.74), (0.0, 0.8, 0.6, 0.8), (1.0, 0.8, 0.6, 0.6), (0.5, 1.0, 0.0, 0.5)],
)
def test_health_mode_blends_objective_and_overall_health(
    metrics: Metrics, health: Health, weight: float, objective_part: float, overall: float, expected: float
) -> None:
    breakdown = blended_score(
        Objective.VAL_ACCURACY, Mode.HEALTH, weight, metrics(val_accuracy=objective_part), health(overall=overall)
    )
    assert breakdown.score == pytest.approx(expected)
    assert breakdown.score == pytest.approx((1 - weight) * breakdown.objective_score + weight * overall)
    assert breakdown.objective_score == objective_part
    assert breakdown.overall_health == overall
    assert breakdown.health_weight == weight
    assert breakdown.mode is Mode.HEALTH


def test_health_mode_blends_the_mapped_objective_not_the_raw_value(metrics: Metrics, health: Health) -> None:
    breakdown = blended_score(
        Objective.TRAINING_TIME, Mode.HEALTH, 0.3, metrics(training_seconds=60.0), health(overall=0.6)
    )
    assert breakdown.raw_value == 60.0
    assert breakdown.objective_score == pytest.approx(0.5)
    assert breakdown.score == pytest.approx(0.7 * 0.5 + 0.3 * 0.6)


def test_health_mode_needs_an_assessment(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="health mode"):
        blended_score(Objective.VAL_ACCURACY, Mode.HEALTH, 0.3, metrics(), None)


def test_simple_mode_scores_the_objective_alone(metrics: Metrics, health: Health) -> None:
    breakdown = blended_score(Objective.VAL_ACCURACY, Mode.SIMPLE, 0.3, metrics(val_accuracy=0.8), health(overall=0.1))
    assert breakdown.score == 0.8
    assert breakdown.health_weight == 0.0
    assert breakdown.overall_health == 0.1
    without_health = blended_score(Objective.ACCURACY, Mode.SIMPLE, 0.3, metrics(accuracy=0.9), None)
    assert without_health.score == 0.9
    assert without_health.overall_health is None


def test_formula_in_health_mode(metrics: Metrics, health: Health) -> None:
    breakdown = blended_score(Objective.VAL_ACCURACY, Mode.HEALTH, 0.3, metrics(val_accuracy=0.8), health(overall=0.6))
    assert breakdown.formula() == "score = (1 - 0.30) x 0.8000 + 0.30 x 0.6000 = 0.7400"


def test_formula_in_simple_mode(metrics: Metrics, health: Health) -> None:
    breakdown = blended_score(Objective.TRAINING_TIME, Mode.SIMPLE, 0.3, metrics(training_seconds=60.0), health())
    assert breakdown.formula() == "score = objective_score(training_time) = 0.5000"


def test_formula_without_health_falls_back_to_the_objective() -> None:
    breakdown = ScoreBreakdown(
        objective=Objective.ACCURACY,
        mode=Mode.HEALTH,
        raw_value=0.9,
        objective_score=0.9,
        overall_health=None,
        health_weight=0.3,
        score=0.9,
    )
    assert breakdown.formula() == "score = objective_score(accuracy) = 0.9000"


def test_breakdown_round_trips_through_json(metrics: Metrics, health: Health) -> None:
    breakdown = blended_score(Objective.MEMORY_EFFICIENCY, Mode.HEALTH, 0.4, metrics(), health())
    assert ScoreBreakdown.model_validate_json(breakdown.model_dump_json()) == breakdown
