"""The scheduler fences superseded attempts and judges every epoch when a pruner runs."""

from __future__ import annotations

from contracts.enums import ControlAction, Mode, PrunerName, StudyState
from contracts.events import StudyCompleted, StudyCreated, StudyCreatedData, TrialControl, TrialRequested
from contracts.study import StudyConfig
from tests.support.events import epoch_completed, trial_completed
from tests.support.telemetry import epoch_telemetry, trial_metrics
from tests.support.waiting import eventually
from tests.unit.scheduler.scripted import Harness


def _created(study_id: str, **options: object) -> StudyCreated:
    config = StudyConfig.model_validate({"dataset": "digits", "seed": 1, "mode": Mode.SIMPLE, **options})
    return StudyCreated(source="test", study_id=study_id, data=StudyCreatedData(study_name=study_id, config=config))


async def test_a_silent_attempt_is_superseded_and_its_late_signs_of_life_are_told_so(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("silent", None) if req.data.attempt == 1 else ("complete", 0.6))
    seen = await harness.collect(["study.completed", "trial.failed"])
    await harness.bus.publish(_created("s-fence", trials=1, max_epochs=2, pruner=PrunerName.NONE))
    await eventually(lambda: any(isinstance(e, StudyCompleted) for e in seen), "the retried study to complete")
    lost = trainer.requests[0]
    assert lost.trial_id is not None
    superseded = [c for c in trainer.controls if c.trial_id == lost.trial_id]
    assert [c.data.action for c in superseded] == [ControlAction.SUPERSEDED]

    late_epoch = epoch_completed("s-fence", lost.trial_id, epoch_telemetry(1), max_epochs=2, source="trainer")
    late_result = trial_completed("s-fence", lost.trial_id, trial_metrics(0.99), source="trainer")
    await harness.bus.publish(late_epoch)
    await harness.bus.publish(late_result)
    await harness.bus.wait_idle()
    again = [c for c in trainer.controls if c.trial_id == lost.trial_id]
    assert [c.data.action for c in again] == [ControlAction.SUPERSEDED] * 2, "the thawed trainer is told to stop"
    (done,) = [e for e in seen if isinstance(e, StudyCompleted)]
    assert done.data.state is StudyState.COMPLETED and done.data.completed_trials == 1
    assert done.data.best_score is not None and done.data.best_score < 0.99, "the late result changed nothing"


async def test_with_a_pruner_every_epoch_but_the_last_gets_a_verdict(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("complete", 0.7))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-verdicts", trials=1, max_epochs=3, pruner=PrunerName.MEDIAN))
    await eventually(lambda: bool(seen), "the study to complete")
    (request,) = trainer.requests
    assert isinstance(request, TrialRequested) and request.data.await_verdicts
    verdicts = [(c.data.action, c.data.epoch) for c in trainer.controls if isinstance(c, TrialControl)]
    assert verdicts == [(ControlAction.CONTINUE, 1), (ControlAction.CONTINUE, 2)]


async def test_without_a_pruner_no_verdict_is_sent_or_awaited(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("complete", 0.7))
    seen = await harness.collect(["study.completed"])
    await harness.bus.publish(_created("s-no-pruner", trials=1, max_epochs=3, pruner=PrunerName.NONE))
    await eventually(lambda: bool(seen), "the study to complete")
    assert not trainer.requests[0].data.await_verdicts and trainer.controls == []


async def test_a_stopped_study_resumes_with_its_finished_trials_and_runs_only_the_rest(harness: Harness) -> None:
    from contracts.events import (
        StudyResumed,
        StudyResumeRequested,
        StudyResumeRequestedData,
        StudyStopRequested,
        StudyStopRequestedData,
    )

    trainer = await harness.trainer(lambda req: ("complete", 0.5 + 0.01 * req.data.trial_number))
    seen = await harness.collect(["study.completed", "study.resumed"])
    await harness.bus.publish(_created("s-resume", trials=5, max_epochs=1, pruner=PrunerName.NONE))
    await eventually(lambda: len(trainer.requests) >= 2, "two trials to be requested")
    await harness.bus.publish(StudyStopRequested(source="test", study_id="s-resume", data=StudyStopRequestedData()))
    await eventually(lambda: any(isinstance(e, StudyCompleted) for e in seen), "the stop to end the study")
    (stopped,) = [e for e in seen if isinstance(e, StudyCompleted)]
    assert stopped.data.state is StudyState.STOPPED
    done_before = stopped.data.completed_trials
    await harness.bus.publish(StudyResumeRequested(source="test", study_id="s-resume", data=StudyResumeRequestedData()))
    await eventually(lambda: len([e for e in seen if isinstance(e, StudyCompleted)]) == 2, "the resumed study to end")
    (resumed,) = [e for e in seen if isinstance(e, StudyResumed)]
    assert resumed.data.completed_trials == done_before and resumed.data.remaining_trials == 5 - done_before
    final = [e for e in seen if isinstance(e, StudyCompleted)][-1]
    assert final.data.state is StudyState.COMPLETED and final.data.completed_trials == 5
    assert len(trainer.requests) <= 5 + 1, "finished trials are not run again"
    await harness.bus.publish(StudyResumeRequested(source="test", study_id="s-resume", data=StudyResumeRequestedData()))
    await harness.bus.wait_idle()
    assert len([e for e in seen if isinstance(e, StudyResumed)]) == 1, "a completed study does not resume"


async def test_the_data_options_reach_the_trainer(harness: Harness) -> None:
    trainer = await harness.trainer(lambda req: ("complete", 0.7))
    seen = await harness.collect(["study.completed"])
    options = {"dataset": "text_csv", "data_dir": "reviews", "text_column": "review", "label_column": "stars"}
    await harness.bus.publish(_created("s-columns", trials=1, max_epochs=1, pruner=PrunerName.NONE, **options))
    await eventually(lambda: bool(seen), "the study to complete")
    data = trainer.requests[0].data
    assert (data.text_column, data.label_column, data.on_bad_files.value, data.data_dir) == (
        "review",
        "stars",
        "skip",
        "reviews",
    )


async def test_the_health_pruner_stops_a_trial_whose_layer_died_and_says_why(harness: Harness) -> None:
    from contracts.telemetry import LayerTelemetry

    trainer = await harness.trainer(lambda req: ("silent", None))
    await harness.bus.publish(_created("s-health", trials=1, max_epochs=4, pruner=PrunerName.MEDIAN_HEALTH))
    await eventually(lambda: bool(trainer.requests), "the trial to be requested")
    (request,) = trainer.requests
    assert request.trial_id is not None and request.data.await_verdicts
    dead = [LayerTelemetry(name="conv_1", kind="Conv2D", gradient_norm=0.0, dead_fraction=1.0)]
    for epoch in (1, 2):
        tele = epoch_telemetry(epoch, loss=2.3, val_accuracy=0.1, layers=dead)
        await harness.bus.publish(epoch_completed("s-health", request.trial_id, tele, max_epochs=4, source="trainer"))
    await eventually(
        lambda: any(c.data.action is ControlAction.PRUNE for c in trainer.controls), "the health pruner to prune"
    )
    verdicts = [(c.data.action, c.data.epoch) for c in trainer.controls]
    assert verdicts == [(ControlAction.CONTINUE, 1), (ControlAction.PRUNE, 2)]  # one dead epoch may recover
    (prune,) = [c for c in trainer.controls if c.data.action is ControlAction.PRUNE]
    assert prune.data.reason.startswith("health pruner (dead_layer): layer conv_1 has every unit dead")
