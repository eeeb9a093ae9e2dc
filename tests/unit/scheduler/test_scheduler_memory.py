"""A scheduler that runs many studies keeps only the running ones in memory."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from contracts.enums import DatasetName, Mode, PrunerName
from contracts.events import Event, StudyCompleted, TrialCompleted, TrialCompletedData, TrialRequested
from contracts.study import StudyConfig
from services.runtime.bus.memory import InMemoryBus
from services.scheduler import bootstrap
from services.scheduler.registry import FINISHED_KEPT
from services.scheduler.settings import SchedulerSettings
from services.scheduler.study_runner import StudyRunner
from tests.support.events import study_created
from tests.support.telemetry import trial_metrics

STUDIES = 300  # enough for six checks of the active count; each study costs about 30 ms
METRICS = trial_metrics(0.5, training_seconds=0.1, parameter_count=10, memory_mb=1.0, epochs_trained=1)


@pytest.mark.slow
async def test_hundreds_of_finished_studies_leave_no_study_state_behind(tmp_path: Path) -> None:
    bus = InMemoryBus()
    settings = SchedulerSettings(optuna_storage=f"sqlite:///{tmp_path / 'optuna.sqlite'}", queue_ahead=0)
    scheduler = await bootstrap.start(bus, settings)
    completed: list[StudyCompleted] = []

    async def instant_trainer(event: Event) -> None:
        assert isinstance(event, TrialRequested)
        data = TrialCompletedData(trainer_id="t", trial_number=event.data.trial_number, metrics=METRICS)
        await bus.publish(event.follow_up(TrialCompleted, data, source="trainer"))

    async def observe(event: Event) -> None:
        assert isinstance(event, StudyCompleted)
        completed.append(event)

    await bus.subscribe("trainer.work", ["trial.requested"], instant_trainer, prefetch=8)
    await bus.subscribe("observer", ["study.completed"], observe, prefetch=100)
    config = StudyConfig(dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=1, max_epochs=1, pruner=PrunerName.NONE)
    peak_active = 0
    try:
        for index in range(STUDIES):
            await bus.publish(study_created(f"study{index:04d}", config, name=f"study-{index}"))
            if index % 50 == 49:
                peak_active = max(peak_active, scheduler.deps.studies.sizes()["active"])
                await bus.wait_idle()
        await bus.wait_idle()
    finally:
        await scheduler.stop()
        await bus.close()

    assert len(completed) == STUDIES and {e.data.completed_trials for e in completed} == {1}
    sizes = scheduler.deps.studies.sizes()
    assert sizes == {"active": 0, "trials": 0, "finished": min(STUDIES, FINISHED_KEPT)}
    assert len(scheduler.deps.leases) == 0
    assert peak_active <= 50, "studies are let go as they end, not at the end of the run"
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, StudyRunner)], "every study's Optuna copy is released"
