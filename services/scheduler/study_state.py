"""What the scheduler remembers of each study it runs: its runner and the trials in flight."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.health import HealthAssessment
from contracts.study import StudyConfig
from contracts.telemetry import TrialMetrics
from services.scheduler.study_runner import StudyRunner


@dataclass
class TrialInFlight:
    trial_id: str
    number: int
    params: dict[str, Any]
    attempt: int = 1
    started: bool = False
    prune_sent: bool = False
    metrics: TrialMetrics | None = None
    final_health: HealthAssessment | None = None


@dataclass
class StudyRun:
    study_id: str
    study_name: str
    config: StudyConfig
    runner: StudyRunner
    in_flight: dict[str, TrialInFlight] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    asked: int = 0
    stopping: bool = False
    stop_reason: str = ""
    done: bool = False

    @property
    def counted(self) -> int:
        """Finished trials as the ``trials`` setting counts them: completed plus pruned."""
        return self.completed + self.pruned
