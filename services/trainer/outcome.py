"""What a trial runner hands back to the handler, and the hooks it calls while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from contracts.architecture import LayerSpec
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.trainer.control import ControlRequest


class OutcomeKind(StrEnum):
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"


@dataclass(frozen=True)
class TrialOutcome:
    kind: OutcomeKind
    epochs_trained: int
    reason: str = ""
    metrics: TrialMetrics | None = None
    architecture: str = ""
    stopped_early: bool = False
    last_val_accuracy: float | None = None
    model_key: str | None = None
    model_size_bytes: int = 0


@dataclass(frozen=True)
class TrialHooks:
    """Called from the training thread; each blocks until the event loop has published."""

    started: Callable[[str, int], None]  # architecture, parameter count
    epoch_completed: Callable[[EpochTelemetry], None]
    control: Callable[[], ControlRequest | None]
    await_verdict: Callable[[int], None] = lambda epoch: None
    """Called after an epoch that is not the last: returns once the pruner judged it (or after a timeout)."""
    judged: Callable[[], int] = lambda: 0
    """The last epoch the pruner has judged (what a trial process is told)."""
    data_loaded: Callable[[list[str]], None] = lambda notes: None
    """Called before ``started`` with the dataset's notes, one line each (files skipped, how it was split)."""
    layers_built: Callable[[list[LayerSpec]], None] = lambda layers: None
    """Called before ``started`` with the built model's layers."""


@dataclass(frozen=True)
class TrialJob:
    study_id: str
    trial_id: str
    request: TrialRequestedData

    @property
    def model_key(self) -> str:
        return f"studies/{self.study_id}/trials/{self.request.trial_number:04d}-{self.trial_id}/model.keras"


class TrialRunner(Protocol):
    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        """Run one trial to its end in the calling thread; never raises for a trial's own failure."""

    def close(self) -> None:
        """Release what the runner holds (a child process); it is not used afterwards."""
