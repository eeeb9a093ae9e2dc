"""Health assessments and alerts as the health service publishes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.enums import AlertKind, Severity

HEALTH_COMPONENTS: tuple[str, ...] = (
    "neuron_utilization",
    "gradient_health",
    "training_stability",
    "convergence",
    "parameter_efficiency",
)


class HealthComponents(BaseModel):
    """The five components, each in [0, 1] where 1 is healthy. Definitions: ``services.health``."""

    model_config = ConfigDict(frozen=True)

    neuron_utilization: float = Field(ge=0.0, le=1.0)
    gradient_health: float = Field(ge=0.0, le=1.0)
    training_stability: float = Field(ge=0.0, le=1.0)
    convergence: float = Field(ge=0.0, le=1.0)
    parameter_efficiency: float = Field(ge=0.0, le=1.0)


class HealthAssessment(BaseModel):
    """Components, their weights, the weighted mean and one plain-language line per component."""

    model_config = ConfigDict(frozen=True)

    components: HealthComponents
    weights: dict[str, float]
    overall_health: float = Field(ge=0.0, le=1.0)
    explanations: dict[str, str] = Field(default_factory=dict)


class HealthAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: AlertKind
    severity: Severity
    message: str = Field(max_length=2_000)
    epoch: int | None = None
    layer: str | None = Field(default=None, max_length=256)
