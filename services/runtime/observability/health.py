"""The health service's metrics: the health of each study's recent trials and the alerts raised.

The health service never learns that a study ended, so a study's series go once it has been idle
``IDLE_STUDY_SECONDS``, and at most ``MAX_STUDIES`` studies are kept (the least recently seen goes).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.enums import AlertKind
from contracts.health import HEALTH_COMPONENTS, HealthAssessment
from services.runtime.observability.series import Clock, StudySeries

IDLE_STUDY_SECONDS = 1800.0
MAX_STUDIES = 10
OVERALL = "overall"


class HealthMetrics:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_studies: int = MAX_STUDIES,
        idle_seconds: float = IDLE_STUDY_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.health = Gauge(
            "hpo_trial_health",
            "Health of the study's last finished trial: overall and each component, in [0, 1].",
            ["study", "component"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "hpo_health_alerts", "Health alerts raised, by kind.", ["study", "kind"], registry=self.registry
        )
        self._series = StudySeries(max_studies=max_studies, idle_seconds=idle_seconds, clock=clock)

    def study_seen(self, study: str) -> None:
        """A study's trial is being assessed: its alert counters exist (at zero) from now on."""
        for kind in AlertKind:
            self._series.labels(self.alerts, study, kind.value)

    def assessed(self, study: str, assessment: HealthAssessment) -> None:
        """The final assessment of one of the study's trials."""
        self.study_seen(study)
        self._series.labels(self.health, study, OVERALL).set(assessment.overall_health)
        for component in HEALTH_COMPONENTS:
            self._series.labels(self.health, study, component).set(getattr(assessment.components, component))

    def alert(self, study: str, kind: AlertKind) -> None:
        self._series.labels(self.alerts, study, kind.value).inc()
