"""Factories of the contract value objects tests feed services: layer and epoch telemetry, trial
metrics, health assessments. Every field has a plain default; tests pass only what they care about."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contracts.health import HEALTH_COMPONENTS, HealthAssessment, HealthComponents
from contracts.telemetry import EpochTelemetry, LayerTelemetry, TrialMetrics


def layer_telemetry(
    name: str = "dense", *, kind: str = "Dense", parameter_count: int = 1000, **fields: Any
) -> LayerTelemetry:
    """One layer's statistics: a Dense layer with 1000 parameters unless told; ``fields`` sets the rest."""
    return LayerTelemetry(name=name, kind=kind, parameter_count=parameter_count, **fields)


def epoch_telemetry(
    epoch: int = 1,
    *,
    loss: float | None = 1.0,
    accuracy: float | None = 0.8,
    val_loss: float | None = 1.0,
    val_accuracy: float | None = 0.8,
    layers: Sequence[LayerTelemetry] = (),
    **fields: Any,
) -> EpochTelemetry:
    """One epoch's telemetry; ``fields`` sets the optional figures (learning_rate, epoch_seconds...)."""
    return EpochTelemetry(
        epoch=epoch,
        loss=loss,
        accuracy=accuracy,
        val_loss=val_loss,
        val_accuracy=val_accuracy,
        layers=list(layers),
        **fields,
    )


def epoch_curve(
    losses: Sequence[float | None],
    val_losses: Sequence[float | None] | None = None,
    accuracies: Sequence[float | None] | None = None,
    val_accuracies: Sequence[float | None] | None = None,
    layers: Sequence[LayerTelemetry] = (),
) -> list[EpochTelemetry]:
    """One epoch per loss, numbered from 1: validation losses default to the losses, accuracies to 0.8."""
    n = len(losses)
    return [
        epoch_telemetry(
            i + 1,
            loss=losses[i],
            val_loss=(val_losses or losses)[i],
            accuracy=(accuracies or [0.8] * n)[i],
            val_accuracy=(val_accuracies or [0.8] * n)[i],
            layers=layers,
        )
        for i in range(n)
    ]


def trial_metrics(
    val_accuracy: float = 0.9,
    *,
    accuracy: float | None = None,
    training_seconds: float = 1.0,
    parameter_count: int = 5_000,
    memory_mb: float = 10.0,
    epochs_trained: int = 3,
    **fields: Any,
) -> TrialMetrics:
    """A trial's final figures; ``accuracy`` defaults to ``val_accuracy``; ``fields`` sets the optional ones."""
    return TrialMetrics(
        val_accuracy=val_accuracy,
        accuracy=val_accuracy if accuracy is None else accuracy,
        training_seconds=training_seconds,
        parameter_count=parameter_count,
        memory_mb=memory_mb,
        epochs_trained=epochs_trained,
        **fields,
    )


def health_assessment(
    overall: float = 0.6,
    *,
    components: Mapping[str, float] | None = None,
    default_component: float = 0.5,
    weights: Mapping[str, float] | None = None,
    explanations: Mapping[str, str] | None = None,
) -> HealthAssessment:
    """An assessment with overall health ``overall``: each component ``default_component`` unless
    ``components`` names it, weights 0.2 each, one explanation line per component unless told."""
    values = dict.fromkeys(HEALTH_COMPONENTS, default_component) | dict(components or {})
    if explanations is None:
        explanations = {name: f"{name.replace('_', ' ')} explained in one line" for name in HEALTH_COMPONENTS}
    return HealthAssessment(
        components=HealthComponents(**values),
        weights=dict.fromkeys(HEALTH_COMPONENTS, 0.2) if weights is None else dict(weights),
        overall_health=overall,
        explanations=dict(explanations),
    )
