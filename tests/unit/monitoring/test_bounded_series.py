"""Label cardinality stays bounded: after 50 studies a trainer exports what one study needs, the health
service at most its cap of studies, the scheduler its running studies plus a few recently ended."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from contracts.enums import AlertKind, StudyState
from services.runtime.observability.health import MAX_STUDIES, HealthMetrics
from services.runtime.observability.metrics import ServiceMetrics
from services.runtime.observability.studies import ENDED_STUDY_TTL_SECONDS, MAX_ENDED_STUDIES, StudyMetrics
from services.runtime.observability.training import TrainingMetrics
from tests.support.telemetry import epoch_telemetry, health_assessment, layer_telemetry

STUDIES = 50
KERAS_LAYERS = [f"conv{b}{suffix}" for b in (1, 2, 3) for suffix in ("", "_bn", "_act")] + [
    "dense",
    "dense_act",
    "classifier",
]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def series(registry: CollectorRegistry) -> int:
    """Series as /metrics exports them (the served processes turn off the *_created ones)."""
    return sum(1 for family in registry.collect() for s in family.samples if not s.name.endswith("_created"))


def _train_one_study(metrics: TrainingMetrics, study: str, trials: int = 3, epochs: int = 3) -> None:
    for trial in range(trials):
        metrics.trial_started(study, trial, epochs)
        layers = [
            layer_telemetry(name, gradient_norm=0.1, dead_fraction=0.0, saturated_fraction=0.0) for name in KERAS_LAYERS
        ]
        for epoch in range(1, epochs + 1):
            metrics.epoch_completed(study, epoch_telemetry(epoch, layers=layers, epoch_seconds=1.0))
        metrics.trial_ended()


def test_a_trainer_exports_one_studys_series_after_50_studies() -> None:
    registry = CollectorRegistry()
    bus = ServiceMetrics("trainer", registry)
    bus.queue_bound("trainer.work", ["trial.requested"])
    bus.queue_bound("trainer.control.tr-1", ["trial.control"])
    metrics = TrainingMetrics("tr-1", registry)
    _train_one_study(metrics, "study-0")
    during_first = series(registry)
    for number in range(1, STUDIES):
        _train_one_study(metrics, f"study-{number}")
    assert series(registry) == during_first
    assert during_first < 200
    studies = {s.labels.get("study") for f in registry.collect() for s in f.samples} - {None}
    assert studies == {f"study-{STUDIES - 1}"}


def test_the_health_service_keeps_at_most_its_cap_of_studies() -> None:
    registry = CollectorRegistry()
    metrics = HealthMetrics(registry, clock=Clock())
    metrics.assessed("study-0", health_assessment())
    one_study = series(registry)
    for number in range(STUDIES):
        metrics.assessed(f"study-{number}", health_assessment())
        metrics.alert(f"study-{number}", AlertKind.OVERFITTING)
    assert series(registry) == MAX_STUDIES * one_study
    assert one_study == 6 + len(AlertKind)  # overall and five components, one alert counter per kind


def test_the_scheduler_keeps_running_studies_and_a_few_recently_ended() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    metrics = StudyMetrics(registry, clock=clock)
    baseline = series(registry)  # running, ended by state, trials by state, the duration histogram
    for number in range(STUDIES):
        study = f"study-{number}"
        metrics.study_started(study, f"name-{number}")
        for _ in range(4):
            metrics.trial(study, "requested")
            metrics.trial(study, "started")
            metrics.trial_completed(study, 0.5 + number / 100, 30.0)
        running = series(registry)
        metrics.study_ended(study, StudyState.COMPLETED)
        clock.now += 30  # well within ENDED_STUDY_TTL_SECONDS: the cap on ended studies is what binds
    assert ENDED_STUDY_TTL_SECONDS > 30 * MAX_ENDED_STUDIES
    ended = 1 + 5 + 1  # info, trials by state, best score (the start time goes at the end)
    assert running - baseline == MAX_ENDED_STUDIES * ended + ended + 1  # the one running has its start time
    assert series(registry) == baseline + MAX_ENDED_STUDIES * ended
    metrics.study_started("running", "still running")
    clock.now += ENDED_STUDY_TTL_SECONDS
    metrics.trial("running", "started")
    kept = {s.labels.get("study") for f in registry.collect() for s in f.samples} - {None}
    assert kept == {"running"}
