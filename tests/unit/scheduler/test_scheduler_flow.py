"""The scheduler driving whole studies over the in-process bus against a scripted trainer."""

from __future__ import annotations

import optuna
import pytest

from contracts.enums import Mode, PrunerName, StudyState
from contracts.events import (
    StudyCompleted,
    StudyCreated,
    StudyCreatedData,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialHealthAssessed,
    TrialHealthAssessedData,
)
from contracts.health import HealthAssessment, HealthComponents
from contracts.study import StudyConfig


def _created(study_id: str, **config: object) -> StudyCreated:
    cfg = StudyConfig(dataset="digits", seed=1, **config)  # type: ignore[arg-type]
    return StudyCreated(source="test", study_id=study_id, data=StudyCreatedData(study_name=study_id, config=cfg))


def _optuna_states(settings, study_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    study = optuna.load_study(study_name=study_id, storage=settings.storage_url)
    return [t.state.name for t in study.get_trials()]


async def test_simple_study_runs_exactly_the_requested_trials(harness) -> None:  # type: ignore[no-untyped-def]
    trainer = await harness.trainer(lambda req: ("complete", 0.5 + 0.01 * req.data.trial_number))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-simple", mode=Mode.SIMPLE, trials=5, max_epochs=2, pruner=PrunerName.NONE))
    await harness.wait_for(lambda: bool(seen))
    done = seen[0]
    assert isinstance(done, StudyCompleted)
    assert done.data.state is StudyState.COMPLETED
    assert done.data.completed_trials == 5
    assert len(trainer.requests) == 5
    assert done.data.best_trial_number == 4
    assert _optuna_states(harness.settings, "s-simple") == ["COMPLETE"] * 5


async def test_health_mode_waits_for_final_health_and_blends(harness) -> None:  # type: ignore[no-untyped-def]
    async def assess_on_complete(event) -> None:  # type: ignore[no-untyped-def]
        assessment = HealthAssessment(
            components=HealthComponents(
                neuron_utilization=1, gradient_health=1, training_stability=1, convergence=1, parameter_efficiency=1
            ),
            weights={"neuron_utilization": 1.0},
            overall_health=0.2,
        )
        await harness.bus.publish(
            TrialHealthAssessed(
                source="health",
                study_id=event.study_id,
                trial_id=event.trial_id,
                data=TrialHealthAssessedData(
                    trial_number=event.data.trial_number, epoch=1, final=True, assessment=assessment
                ),
            )
        )

    await harness.bus.subscribe("fake.health", ["trial.completed"], assess_on_complete)
    await harness.trainer(lambda req: ("complete", 0.8))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(
        _created("s-health", mode=Mode.HEALTH, trials=2, max_epochs=1, health_weight=0.5, pruner=PrunerName.NONE)
    )
    await harness.wait_for(lambda: bool(seen))
    assert seen[0].data.state is StudyState.COMPLETED
    assert seen[0].data.best_score == pytest.approx(0.5 * 0.8 + 0.5 * 0.2)


async def test_pruner_sends_prune_control_and_pruned_trials_count(harness) -> None:  # type: ignore[no-untyped-def]
    trainer = await harness.trainer(lambda req: ("complete", 0.9 if req.data.trial_number < 3 else 0.1))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-prune", mode=Mode.SIMPLE, trials=6, max_epochs=4, pruner=PrunerName.MEDIAN))
    await harness.wait_for(lambda: bool(seen))
    prunes = [c for c in trainer.controls if c.data.action == "prune"]
    assert prunes, "the median pruner should stop the poor late trials"
    assert seen[0].data.pruned_trials >= 1
    assert seen[0].data.completed_trials + seen[0].data.pruned_trials == 6
    assert "RUNNING" not in _optuna_states(harness.settings, "s-prune")


async def test_failed_trials_do_not_count_and_the_study_goes_on(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.trainer(
        lambda req: ("fail", "out of memory") if req.data.trial_number % 2 == 0 else ("complete", 0.7)
    )
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-fail", mode=Mode.SIMPLE, trials=3, max_epochs=1, pruner=PrunerName.NONE))
    await harness.wait_for(lambda: bool(seen))
    assert seen[0].data.completed_trials == 3
    assert seen[0].data.failed_trials == 3
    states = _optuna_states(harness.settings, "s-fail")
    assert states.count("FAIL") == 3 and states.count("COMPLETE") == 3


async def test_study_gives_up_when_every_trial_fails(harness) -> None:  # type: ignore[no-untyped-def]
    await harness.trainer(lambda req: ("fail", "bad params"))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-allfail", mode=Mode.SIMPLE, trials=2, max_epochs=1))
    await harness.wait_for(lambda: bool(seen))
    assert seen[0].data.state is StudyState.FAILED
    assert seen[0].data.failed_trials == 2 * harness.settings.max_trial_factor


async def test_silent_trainer_trial_is_failed_and_retried_with_same_params(harness) -> None:  # type: ignore[no-untyped-def]
    trainer = await harness.trainer(
        lambda req: ("silent", None) if req.data.attempt == 1 and req.data.trial_number == 0 else ("complete", 0.6)
    )
    seen = await harness.collect(["study.completed", "trial.failed"])
    await harness.bus.publish(_created("s-lease", mode=Mode.SIMPLE, trials=2, max_epochs=1, pruner=PrunerName.NONE))
    await harness.wait_for(lambda: any(isinstance(e, StudyCompleted) for e in seen))
    failed = [e for e in seen if e.type == "trial.failed"]
    assert len(failed) == 1 and "silent" in failed[0].data.reason
    retry = [r for r in trainer.requests if r.data.attempt == 2]
    assert len(retry) == 1
    assert retry[0].data.retry_of == failed[0].trial_id
    assert retry[0].data.params == trainer.requests[0].data.params
    done = next(e for e in seen if isinstance(e, StudyCompleted))
    assert done.data.completed_trials == 2
    assert "RUNNING" not in _optuna_states(harness.settings, "s-lease")


async def test_stop_request_stops_running_trials_and_ends_the_study(harness) -> None:  # type: ignore[no-untyped-def]
    trainer = await harness.trainer(lambda req: ("silent", None))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-stop", mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=2))
    await harness.wait_for(lambda: len(trainer.requests) == 2)
    await harness.bus.publish(
        StudyStopRequested(source="test", study_id="s-stop", data=StudyStopRequestedData(reason="user"))
    )
    await harness.wait_for(lambda: len([c for c in trainer.controls if c.data.action == "stop"]) == 2)
    await harness.wait_for(lambda: bool(seen), timeout=10)
    assert seen[0].data.state is StudyState.STOPPED


async def test_parallel_study_keeps_parallelism_trials_in_flight(harness) -> None:  # type: ignore[no-untyped-def]
    trainer = await harness.trainer(lambda req: ("silent", None))
    await harness.bus.publish(_created("s-par", mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=3))
    await harness.wait_for(lambda: len(trainer.requests) >= 3)
    await harness.bus.wait_idle()
    assert len(trainer.requests) == 3
    assert len({tuple(sorted(r.data.params.items())) for r in trainer.requests}) == 3


async def test_trials_are_requested_ahead_of_free_slots_by_the_queue_ahead_share(harness) -> None:  # type: ignore[no-untyped-def]
    harness.settings.queue_ahead = 0.5
    trainer = await harness.trainer(lambda req: ("silent", None))
    await harness.bus.publish(_created("s-ahead", mode=Mode.SIMPLE, trials=10, max_epochs=1, parallelism=4))
    await harness.wait_for(lambda: len(trainer.requests) >= 6)
    await harness.bus.wait_idle()
    assert len(trainer.requests) == 4 + 2, "parallelism 4 plus half of it waiting in the work queue"


async def test_queue_ahead_never_requests_more_than_the_study_needs(harness) -> None:  # type: ignore[no-untyped-def]
    harness.settings.queue_ahead = 1.0
    trainer = await harness.trainer(lambda req: ("complete", 0.5))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-few", mode=Mode.SIMPLE, trials=3, max_epochs=1, parallelism=2))
    await harness.wait_for(lambda: bool(seen))
    assert seen[0].data.completed_trials == 3 and len(trainer.requests) == 3
    assert _optuna_states(harness.settings, "s-few") == ["COMPLETE"] * 3
