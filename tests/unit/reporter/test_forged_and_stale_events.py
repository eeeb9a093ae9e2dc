"""Events the reporter must not believe: another study's trial, a second study.created, a superseded
attempt's late result. Each goes in; the read model stays as it was (or as the scheduler decided)."""

from __future__ import annotations

from contracts.enums import Mode
from contracts.events import StudyCreated, TrialCompleted, TrialEpochCompleted, TrialFailed, TrialFailedData
from tests.support.events import study_created, trial_completed
from tests.support.telemetry import epoch_telemetry, trial_metrics
from tests.unit.reporter.conftest import Reporter, StudyScript


async def test_a_forged_result_for_another_studys_trial_changes_nothing(reporter: Reporter) -> None:
    victim = StudyScript(study_id="victim", name="victim")
    victim.created()
    victim.requested("v-t0", 0)
    victim.completed("v-t0", 0, val_acc=0.45, model_key=None)
    await reporter.publish(victim.events)
    attacker = StudyScript(study_id="attacker", name="attacker")
    attacker.created()
    forged = trial_completed("attacker", "v-t0", trial_metrics(0.999))
    await reporter.publish([*attacker.events, forged])
    trial = reporter.repository.get_trial("v-t0")
    assert trial is not None and trial.study_id == "victim" and trial.val_accuracy == 0.45


async def test_a_second_study_created_for_a_known_id_is_ignored(reporter: Reporter) -> None:
    script = StudyScript(study_id="s1", name="original")
    first = script.created()
    assert isinstance(first, StudyCreated)
    renamed = study_created("s1", first.data.config, name="renamed")
    await reporter.publish([first, renamed])
    study = reporter.repository.get_study("s1")
    assert study is not None and study.name == "original"


async def test_a_superseded_attempts_late_result_never_rewrites_the_failed_trial(reporter: Reporter) -> None:
    """The scheduler failed the attempt (its trainer went silent); the thawed trainer's epoch and result
    arrive afterwards and are dropped."""
    script = StudyScript(mode=Mode.SIMPLE)
    script.created()
    script.requested("t0", 0)
    script.started("t0", 0)
    lease = TrialFailedData(trial_number=0, reason="trainer went silent for 12s (attempt 1)")
    expired = TrialFailed(source="scheduler", study_id=script.study_id, trial_id="t0", data=lease)
    late_epoch = TrialEpochCompleted.model_validate(
        {
            "source": "trainer",
            "study_id": script.study_id,
            "trial_id": "t0",
            "data": {"trainer_id": "w1", "trial_number": 0, "max_epochs": 3, "telemetry": epoch_telemetry(2)},
        }
    )
    late_result = trial_completed(script.study_id, "t0", trial_metrics(0.99), source="trainer")
    await reporter.publish([*script.events, expired, late_epoch, late_result])
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.state == "failed" and trial.val_accuracy != 0.99
    assert [e.epoch for e in reporter.repository.epochs_for_trial("t0")] == []
    assert await reporter.bus.dead_letters("reporter") == []


async def test_the_schedulers_failure_is_the_final_word_even_after_a_trainers_result(reporter: Reporter) -> None:
    """Optuna holds what the scheduler told it: when its lease expiry reaches the reporter after the
    trainer's result (both in flight at once), the read model follows the scheduler."""
    script = StudyScript(mode=Mode.SIMPLE)
    script.created()
    script.requested("t0", 0)
    result = trial_completed(script.study_id, "t0", trial_metrics(0.9), source="trainer")
    lease = TrialFailedData(trial_number=0, reason="trainer went silent for 12s (attempt 1)")
    expired = TrialFailed(source="scheduler", study_id=script.study_id, trial_id="t0", data=lease)
    await reporter.publish([*script.events, result, expired])
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.state == "failed" and trial.score is None
    assert isinstance(result, TrialCompleted)
