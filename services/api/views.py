"""Response models made for the control panel: a jobs overview and one trial in full."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from contracts.architecture import LayerSpec
from services.api.models import Alert, Trial


class JobSummary(BaseModel):
    """One row of the Jobs page: progress, best score and timing of a job."""

    job_id: str
    name: str
    state: str
    dataset: str | None = None
    mode: str | None = None
    objective: str | None = None
    finished_trials: int = Field(default=0, description="Trials completed, pruned or failed.")
    running_trials: int = 0
    total_trials: int | None = Field(default=None, description="Trials the study asked for.")
    best_score: float | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = Field(default=None, description="Until it ended, or so far while it runs.")
    owner: str | None = None


class JobSummaries(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[JobSummary]


class LayerStats(BaseModel):
    """One layer's telemetry of one epoch, without its histograms."""

    name: str
    kind: str
    gradient_norm: float | None = None
    weight_std: float | None = None
    activation_mean: float | None = None
    dead_fraction: float | None = None
    saturated_fraction: float | None = None


class EpochDetail(BaseModel):
    """One epoch: its metrics and a summary of its telemetry."""

    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    epoch_seconds: float | None = None
    samples_per_second: float | None = None
    memory_rss_mb: float | None = None
    telemetry_seconds: float | None = None
    layers: list[LayerStats] = Field(default_factory=list)


class HealthBreakdown(BaseModel):
    """The latest health assessment of the trial, component by component."""

    overall_health: float | None = None
    components: dict[str, float] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    explanations: dict[str, str] = Field(default_factory=dict)
    epoch: int | None = None
    final: bool = False

    @classmethod
    def of(cls, health: dict[str, Any] | None) -> HealthBreakdown:
        if not health:
            return cls()
        return cls(
            overall_health=health.get("overall_health"),
            components={k: float(v) for k, v in (health.get("components") or {}).items() if v is not None},
            weights={k: float(v) for k, v in (health.get("weights") or {}).items()},
            explanations=dict(health.get("explanations") or {}),
            epoch=health.get("epoch"),
            final=bool(health.get("final", False)),
        )


class TrialDetail(BaseModel):
    """Everything about one trial: the row, its epochs, health, alerts and architecture."""

    job_id: str
    trial: Trial
    epochs: list[EpochDetail]
    health: HealthBreakdown
    alerts: list[Alert]
    layers: list[LayerSpec] = Field(description="The built model layer by layer (empty until the trial started).")
