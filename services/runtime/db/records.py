"""Plain, frozen records the read-model repository returns (never SQLAlchemy rows).

Enumerated values (states, modes, objectives, alert kinds) are kept as their string values; the
JSON columns come back as plain ``dict`` / ``list`` values and ``datetime`` values are always
timezone-aware (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

TrialSortKey = Literal["number", "score", "val_accuracy", "overall_health", "duration"]
TRIAL_SORT_KEYS: frozenset[str] = frozenset({"number", "score", "val_accuracy", "overall_health", "duration"})

TERMINAL_TRIAL_STATES: frozenset[str] = frozenset({"completed", "pruned", "failed"})


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """One study as the read model knows it; ``config`` is the ``StudyConfig`` as JSON."""

    study_id: str
    name: str
    state: str
    dataset: str | None = None
    mode: str | None = None
    objective: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    best_trial_id: str | None = None
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    owner: str | None = None
    """The name of the API token that submitted it (None: the CLI, or the single admin token)."""
    data_notes: list[str] = field(default_factory=list)
    """What the trainer said about the study's data (files skipped or ignored, how it was split), one line each."""


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial attempt. ``health`` is the latest ``HealthAssessment`` JSON (plus ``epoch`` and
    ``final`` keys); ``metrics`` is the final ``TrialMetrics`` JSON once the trial completed."""

    trial_id: str
    study_id: str
    state: str
    number: int | None = None
    attempt: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    trainer_id: str | None = None
    architecture: str | None = None
    parameter_count: int | None = None
    metrics: dict[str, Any] | None = None
    val_accuracy: float | None = None
    score: float | None = None
    objective_score: float | None = None
    overall_health: float | None = None
    health: dict[str, Any] | None = None
    model_key: str | None = None
    reason: str | None = None
    epochs_trained: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None

    @property
    def is_finished(self) -> bool:
        return self.state in TERMINAL_TRIAL_STATES


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """One epoch of one trial; ``telemetry`` is the full ``EpochTelemetry`` JSON."""

    trial_id: str
    study_id: str
    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    epoch_seconds: float | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One health alert; at most one per (trial, kind, layer)."""

    id: int
    study_id: str
    trial_id: str
    kind: str
    severity: str
    message: str
    epoch: int | None = None
    layer: str | None = None


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """One stored artifact (model, report bundle, plot)."""

    key: str
    kind: str
    size_bytes: int
    study_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A named API token: only the SHA-256 of the secret is stored."""

    name: str
    role: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    max_trial_epochs: int | None = None
    max_running_studies: int | None = None
