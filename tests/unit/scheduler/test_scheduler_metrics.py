"""The scheduler records what the studies-overview dashboard shows, as it runs a study."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import TrialRequested
from contracts.study import StudyConfig
from services.runtime.bus.memory import InMemoryBus
from services.runtime.observability.studies import StudyMetrics
from services.scheduler import bootstrap
from services.scheduler.settings import SchedulerSettings
from tests.support.events import study_created
from tests.support.waiting import eventually
from tests.unit.scheduler.scripted import Harness


async def test_a_study_leaves_trial_counts_its_best_score_and_its_end_in_the_registry(
    scheduler_settings: SchedulerSettings,
) -> None:
    registry = CollectorRegistry()
    bus = InMemoryBus()
    service = await bootstrap.start(bus, scheduler_settings, StudyMetrics(registry))
    harness = Harness(bus, scheduler_settings)
    scores: dict[int, float | None] = {0: 0.6, 1: None, 2: 0.9, 3: 0.7}  # None: the trial fails

    def outcome(request: TrialRequested) -> tuple[str, float | str | None]:
        score = scores[request.data.trial_number]
        return ("fail", "boom") if score is None else ("complete", score)

    await harness.trainer(outcome)
    seen = await harness.collect(["study.completed"])
    running: list[float | None] = []
    config = StudyConfig(
        dataset=DatasetName.DIGITS, seed=1, mode=Mode.SIMPLE, trials=3, max_epochs=1, pruner=PrunerName.NONE
    )
    try:
        await bus.publish(study_created("s-metrics", config, name="metrics-study"))
        await eventually(lambda: bool(seen), "study.completed", timeout=20)
        running.append(registry.get_sample_value("hpo_studies_running"))
    finally:
        await service.stop()
        await bus.close()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("hpo_study_trials_total", study="s-metrics", state="requested") == 4
    assert value("hpo_study_trials_total", study="s-metrics", state="started") == 4
    assert value("hpo_study_trials_total", study="s-metrics", state="completed") == 3
    assert value("hpo_study_trials_total", study="s-metrics", state="failed") == 1
    assert value("hpo_study_trials_total", study="s-metrics", state="pruned") == 0
    assert value("hpo_trials_total", state="completed") == 3
    assert value("hpo_study_best_score", study="s-metrics") == 0.9
    assert value("hpo_study_info", study="s-metrics", study_name="metrics-study") == 1
    assert value("hpo_trial_duration_seconds_count") == 3
    assert value("hpo_studies_ended_total", state="completed") == 1
    assert running == [0]
    assert value("hpo_study_started_timestamp_seconds", study="s-metrics") is None  # gone once it ended
