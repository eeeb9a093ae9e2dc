"""``overall_health``: the weighted mean of the five components, and the weights behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.health import HEALTH_COMPONENTS, HealthAssessment, HealthComponents
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.health.components import (
    Measurement,
    clamp01,
    finite,
    measure_convergence,
    measure_gradient_health,
    measure_neuron_utilization,
    measure_parameter_efficiency,
    measure_training_stability,
)


class HealthWeights(BaseModel):
    """How much each component counts in ``overall_health``.

    Defaults: neuron utilization 0.25, gradient health 0.25, training stability 0.2, convergence 0.2,
    parameter efficiency 0.1. Each weight must be a finite number >= 0 and at least one must be
    positive; they are normalized to sum to 1 (``normalized()``), so only their ratios matter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    neuron_utilization: float = Field(default=0.25, ge=0.0, allow_inf_nan=False)
    gradient_health: float = Field(default=0.25, ge=0.0, allow_inf_nan=False)
    training_stability: float = Field(default=0.2, ge=0.0, allow_inf_nan=False)
    convergence: float = Field(default=0.2, ge=0.0, allow_inf_nan=False)
    parameter_efficiency: float = Field(default=0.1, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _positive_sum(self) -> Self:
        if sum(self.as_dict().values()) <= 0.0:
            raise ValueError("at least one health weight must be positive")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in HEALTH_COMPONENTS}

    def normalized(self) -> dict[str, float]:
        """The weights scaled to sum to 1, in ``HEALTH_COMPONENTS`` order."""
        raw = self.as_dict()
        total = sum(raw.values())
        return {name: value / total for name, value in raw.items()}


def measure_all(history: Sequence[EpochTelemetry], metrics: TrialMetrics | None = None) -> dict[str, Measurement]:
    """Every component of one trial, keyed as in ``HEALTH_COMPONENTS``.

    Parameter efficiency uses ``metrics`` (validation accuracy, parameter count) when given, else the
    latest epoch's validation accuracy and the sum of its layers' parameter counts.
    """
    epochs = sorted(history, key=lambda e: e.epoch)
    if metrics is not None:
        val_accuracy: float | None = metrics.val_accuracy
        parameters: int | None = metrics.parameter_count
    else:
        val_accuracy = next((v for e in reversed(epochs) if (v := finite(e.val_accuracy)) is not None), None)
        parameters = sum(layer.parameter_count for layer in epochs[-1].layers) if epochs else None
    return {
        "neuron_utilization": measure_neuron_utilization(epochs),
        "gradient_health": measure_gradient_health(epochs),
        "training_stability": measure_training_stability(epochs),
        "convergence": measure_convergence(epochs),
        "parameter_efficiency": measure_parameter_efficiency(val_accuracy, parameters),
    }


def effective_weights(weights: HealthWeights, measured: set[str]) -> dict[str, float]:
    """The normalized weights with unmeasured components set to 0 and the rest scaled back to sum 1.

    When no positively weighted component was measured, the configured normalized weights stand (every
    component then holds its neutral value, so the mean is neutral too).
    """
    base = weights.normalized()
    kept = {name: (w if name in measured else 0.0) for name, w in base.items()}
    total = sum(kept.values())
    if total <= 0.0:
        return base
    return {name: w / total for name, w in kept.items()}


def assess(
    history: Sequence[EpochTelemetry], metrics: TrialMetrics | None = None, weights: HealthWeights | None = None
) -> HealthAssessment:
    """The health of one trial from its epochs so far (and its final ``metrics`` once it completed).

    ``overall_health = sum(weight_c * component_c)`` over the five components with the weights of
    ``effective_weights``: a component that could not be measured shows its neutral value and weight 0,
    and its explanation says so. The assessment's ``weights`` are exactly the ones used.
    """
    measurements = measure_all(history, metrics)
    used = effective_weights(weights or HealthWeights(), {n for n, m in measurements.items() if m.measured})
    values = {name: clamp01(m.value) for name, m in measurements.items()}
    overall = clamp01(sum(used[name] * values[name] for name in HEALTH_COMPONENTS))
    explanations = {
        name: m.explanation if m.measured else f"{m.explanation} (left out of overall health)"
        for name, m in measurements.items()
    }
    return HealthAssessment(
        components=HealthComponents(**values), weights=used, overall_health=overall, explanations=explanations
    )
