"""The scheduler driving whole studies over the in-process bus against a scripted trainer."""

from __future__ import annotations

import optuna
import pytest

from contracts.enums import DatasetName, Mode, PrunerName, StudyState
from contracts.events import (
    Event,
    StudyCompleted,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialCompleted,
    TrialFailed,
)
from contracts.study import StudyConfig
from services.scheduler.settings import SchedulerSettings
from tests.support.events import health_assessed, study_created
from tests.support.telemetry import health_assessment
from tests.support.waiting import eventually
from tests.unit.scheduler.scripted import Harness

DIGITS = DatasetName.DIGITS
WAIT_S = 20.0


def _optuna_states(settings: SchedulerSettings, study_id: str) -> list[str]:
    study = optuna.load_study(study_name=study_id, storage=settings.storage_url)
    return [t.state.name for t in study.get_trials()]


def _first_completed(seen: list[Event]) -> StudyCompleted:
    done = seen[0]
    assert isinstance(done, StudyCompleted)
    return done


async def test_simple_study_runs_exactly_the_requested_trials(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("complete", 0.5 + 0.01 * req.data.trial_number))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=5, max_epochs=2, pruner=PrunerName.NONE)
    await harness.bus.publish(study_created("s-simple", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    done = seen[0]
    assert isinstance(done, StudyCompleted)
    assert done.data.state is StudyState.COMPLETED
    assert done.data.completed_trials == 5
    assert len(trainer.requests) == 5
    assert done.data.best_trial_number == 4
    assert _optuna_states(harness.settings, "s-simple") == ["COMPLETE"] * 5


async def test_health_mode_waits_for_final_health_and_blends(harness: Harness) -> None:
    async def assess_on_complete(event: Event) -> None:
        assert isinstance(event, TrialCompleted) and event.trial_id is not None
        assessment = health_assessment(0.2, default_component=1.0, weights={"neuron_utilization": 1.0})
        await harness.bus.publish(
            health_assessed(
                event.study_id,
                event.trial_id,
                assessment,
                trial_number=event.data.trial_number,
                epoch=1,
                final=True,
                source="health",
            )
        )

    await harness.bus.subscribe("fake.health", ["trial.completed"], assess_on_complete)
    await harness.trainer(lambda req: ("complete", 0.8))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(
        dataset=DIGITS, seed=1, mode=Mode.HEALTH, trials=2, max_epochs=1, health_weight=0.5, pruner=PrunerName.NONE
    )
    await harness.bus.publish(study_created("s-health", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    done = _first_completed(seen)
    assert done.data.state is StudyState.COMPLETED
    assert done.data.best_score == pytest.approx(0.5 * 0.8 + 0.5 * 0.2)


async def test_pruner_sends_prune_control_and_pruned_trials_count(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("complete", 0.9 if req.data.trial_number < 3 else 0.1))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=6, max_epochs=4, pruner=PrunerName.MEDIAN)
    await harness.bus.publish(study_created("s-prune", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    prunes = [c for c in trainer.controls if c.data.action == "prune"]
    assert prunes, "the median pruner should stop the poor late trials"
    done = _first_completed(seen)
    assert done.data.pruned_trials >= 1
    assert done.data.completed_trials + done.data.pruned_trials == 6
    assert "RUNNING" not in _optuna_states(harness.settings, "s-prune")


async def test_failed_trials_do_not_count_and_the_study_goes_on(harness: Harness) -> None:
    await harness.trainer(
        lambda req: ("fail", "out of memory") if req.data.trial_number % 2 == 0 else ("complete", 0.7)
    )
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=3, max_epochs=1, pruner=PrunerName.NONE)
    await harness.bus.publish(study_created("s-fail", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    done = _first_completed(seen)
    assert done.data.completed_trials == 3
    assert done.data.failed_trials == 3
    states = _optuna_states(harness.settings, "s-fail")
    assert states.count("FAIL") == 3 and states.count("COMPLETE") == 3


async def test_study_gives_up_when_every_trial_fails(harness: Harness) -> None:
    await harness.trainer(lambda req: ("fail", "bad params"))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=2, max_epochs=1)
    await harness.bus.publish(study_created("s-allfail", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    done = _first_completed(seen)
    assert done.data.state is StudyState.FAILED
    assert done.data.failed_trials == 2 * harness.settings.max_trial_factor


async def test_silent_trainer_trial_is_failed_and_retried_with_same_params(harness: Harness) -> None:
    trainer = await harness.trainer(
        lambda req: ("silent", None) if req.data.attempt == 1 and req.data.trial_number == 0 else ("complete", 0.6)
    )
    seen = await harness.collect(["study.completed", "trial.failed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=2, max_epochs=1, pruner=PrunerName.NONE)
    await harness.bus.publish(study_created("s-lease", config))
    await eventually(lambda: any(isinstance(e, StudyCompleted) for e in seen), "study.completed", timeout=WAIT_S)
    failed = [e for e in seen if isinstance(e, TrialFailed)]
    assert len(failed) == 1 and "silent" in failed[0].data.reason
    retry = [r for r in trainer.requests if r.data.attempt == 2]
    assert len(retry) == 1
    assert retry[0].data.retry_of == failed[0].trial_id
    assert retry[0].data.params == trainer.requests[0].data.params
    done = next(e for e in seen if isinstance(e, StudyCompleted))
    assert done.data.completed_trials == 2
    assert "RUNNING" not in _optuna_states(harness.settings, "s-lease")


async def test_stop_request_stops_running_trials_and_ends_the_study(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("silent", None))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=2)
    await harness.bus.publish(study_created("s-stop", config))
    await eventually(lambda: len(trainer.requests) == 2, "two trial requests", timeout=WAIT_S)
    await harness.bus.publish(
        StudyStopRequested(source="test", study_id="s-stop", data=StudyStopRequestedData(reason="user"))
    )
    await eventually(
        lambda: len([c for c in trainer.controls if c.data.action == "stop"]) == 2, "two stop controls", timeout=WAIT_S
    )
    await eventually(lambda: bool(seen), "study.completed", timeout=10)
    assert _first_completed(seen).data.state is StudyState.STOPPED


async def test_parallel_study_keeps_parallelism_trials_in_flight(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("silent", None))
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=3)
    await harness.bus.publish(study_created("s-par", config))
    await eventually(lambda: len(trainer.requests) >= 3, "three trial requests", timeout=WAIT_S)
    await harness.bus.wait_idle()
    assert len(trainer.requests) == 3
    assert len({tuple(sorted(r.data.params.items())) for r in trainer.requests}) == 3


async def test_trials_are_requested_ahead_of_free_slots_by_the_queue_ahead_share(harness: Harness) -> None:
    harness.settings.queue_ahead = 0.5
    trainer = await harness.trainer(lambda req: ("silent", None))
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=4)
    await harness.bus.publish(study_created("s-ahead", config))
    await eventually(lambda: len(trainer.requests) >= 6, "six trial requests", timeout=WAIT_S)
    await harness.bus.wait_idle()
    assert len(trainer.requests) == 4 + 2, "parallelism 4 plus half of it waiting in the work queue"


async def test_queue_ahead_never_requests_more_than_the_study_needs(harness: Harness) -> None:
    harness.settings.queue_ahead = 1.0
    trainer = await harness.trainer(lambda req: ("complete", 0.5))
    seen = await harness.collect(["study.completed"])
    config = StudyConfig(dataset=DIGITS, seed=1, mode=Mode.SIMPLE, trials=3, max_epochs=1, parallelism=2)
    await harness.bus.publish(study_created("s-few", config))
    await eventually(lambda: bool(seen), "study.completed", timeout=WAIT_S)
    assert _first_completed(seen).data.completed_trials == 3 and len(trainer.requests) == 3
    assert _optuna_states(harness.settings, "s-few") == ["COMPLETE"] * 3
