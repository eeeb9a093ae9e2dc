"""Projections over the real InMemoryBus and a SQLite read model."""

from __future__ import annotations

import pytest

from contracts.enums import Mode
from services.reporter.projections import CONSUMER, ReporterDeps, handlers


def _deps(reporter) -> ReporterDeps:
    return ReporterDeps(
        publish=reporter.bus.publish,
        repository=reporter.repository,
        artifacts=reporter.artifacts,
        settings=reporter.settings,
    )


async def test_three_trial_study_is_projected(reporter, three_trials) -> None:
    script = three_trials(Mode.HEALTH)
    duplicate = script.events[4]  # an epoch of t0
    await reporter.publish([*script.events[:6], duplicate, *script.events[6:]])

    repo = reporter.repository
    study = repo.get_study("study-1")
    assert study is not None
    assert (study.name, study.state, study.mode, study.objective) == (
        "demo-study",
        "completed",
        "health",
        "val_accuracy",
    )
    assert study.config["health_weight"] == 0.3
    assert study.counts == {"completed": 1, "pruned": 1, "failed": 1}
    assert study.best_trial_id == "t0"

    trials = {t.trial_id: t for t in repo.list_trials("study-1")}
    assert [(t.number, t.state) for t in trials.values()] == [(0, "completed"), (1, "pruned"), (2, "failed")]
    t0, t1, t2 = trials["t0"], trials["t1"], trials["t2"]
    assert t0.params["filters"] == 32
    assert (t0.trainer_id, t0.parameter_count, t0.epochs_trained) == ("w1", 2730, 3)
    assert t0.architecture == "Conv2D(32) -> Dense(64) -> Dense(10)"
    assert t0.model_key == "studies/study-1/trials/t0/model.keras"
    assert t0.metrics is not None and t0.metrics["val_accuracy"] == pytest.approx(0.84)
    assert t0.health is not None and t0.health["final"] is True
    assert t0.overall_health == pytest.approx(0.8)
    assert t0.objective_score == pytest.approx(0.84)
    assert t0.score == pytest.approx(0.7 * 0.84 + 0.3 * 0.8)
    assert t0.duration_seconds is not None and t0.duration_seconds >= 0

    assert (t1.epochs_trained, t1.val_accuracy, t1.score, t1.reason) == (1, 0.3, None, "below median")
    assert t2.reason == "out of memory while building the model"
    assert t2.score is None

    assert [e.epoch for e in repo.epochs_for_trial("t0")] == [1, 2, 3]
    epoch = repo.epochs_for_trial("t0")[0]
    assert epoch.telemetry["layers"][0]["name"] == "conv2d"
    assert epoch.telemetry["layers"][0]["weight_histogram"]["counts"] == [2, 10, 12, 3]
    assert [(a.trial_id, a.kind, a.epoch) for a in repo.alerts_for_study("study-1")] == [("t0", "overfitting", 3)]
    assert repo.get_artifact("studies/study-1/trials/t0/model.keras") is not None
    assert await reporter.bus.dead_letters("reporter") == []


async def test_redelivered_events_change_nothing(reporter, three_trials) -> None:
    script = three_trials(Mode.HEALTH)
    await reporter.publish(script.events)
    repo = reporter.repository
    before = (repo.list_trials("study-1"), repo.epochs_for_study("study-1"), repo.alerts_for_study("study-1"))

    deps = _deps(reporter)
    for event in script.events:  # as if the broker redelivered everything after a restart
        assert repo.is_processed(CONSUMER, event.id)
        await handlers.dispatch(event, deps)

    after = (repo.list_trials("study-1"), repo.epochs_for_study("study-1"), repo.alerts_for_study("study-1"))
    assert after == before
    assert len(after[1]) == 4


@pytest.mark.parametrize("health_first", [False, True])
async def test_health_mode_score_needs_metrics_and_final_health_in_any_order(
    reporter, study_script, health_first: bool
) -> None:
    s = study_script()
    s.created()
    s.requested("t0", 0)
    s.started("t0", 0)
    s.epoch("t0", 0, 1, loss=1.0, acc=0.5, val_loss=1.0, val_acc=0.5)
    await reporter.publish(s.events)
    completed = s.completed("t0", 0, val_acc=0.9, model_key=None)
    final = s.health("t0", 0, 1, final=True, overall=0.5)
    first, second = (final, completed) if health_first else (completed, final)

    await reporter.publish([first])
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.score is None

    await reporter.publish([second])
    trial = reporter.repository.get_trial("t0")
    assert trial is not None
    assert trial.state == "completed"
    assert trial.score == pytest.approx(0.7 * 0.9 + 0.3 * 0.5)
    assert trial.objective_score == pytest.approx(0.9)


async def test_simple_mode_score_is_the_objective_score(reporter, study_script) -> None:
    s = study_script(mode=Mode.SIMPLE)
    s.created()
    s.requested("t0", 0)
    s.completed("t0", 0, val_acc=0.9, model_key=None)
    await reporter.publish(s.events)
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.score == pytest.approx(0.9)

    await reporter.publish([s.health("t0", 0, 3, final=True, overall=0.2)])
    trial = reporter.repository.get_trial("t0")
    assert trial is not None
    assert trial.score == pytest.approx(0.9)
    assert trial.overall_health == pytest.approx(0.2)


async def test_late_running_assessment_never_replaces_the_final_one(reporter, study_script) -> None:
    s = study_script()
    s.created()
    s.requested("t0", 0)
    s.health("t0", 0, 3, final=True, overall=0.8)
    s.health("t0", 0, 2, final=False, overall=0.3)
    await reporter.publish(s.events)
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.health is not None
    assert (trial.overall_health, trial.health["final"], trial.health["epoch"]) == (0.8, True, 3)


async def test_trial_state_never_moves_backwards(reporter, study_script) -> None:
    s = study_script()
    s.created()
    s.requested("t0", 0)
    s.started("t0", 0)
    s.completed("t0", 0, val_acc=0.9, model_key=None)
    s.started("t0", 0)  # a late, distinct start event
    s.requested("t0", 0)
    s.epoch("t0", 0, 2, loss=1.0, acc=0.5, val_loss=1.0, val_acc=0.1)
    await reporter.publish(s.events)
    trial = reporter.repository.get_trial("t0")
    assert trial is not None
    assert (trial.state, trial.val_accuracy, trial.epochs_trained) == ("completed", 0.9, 3)


async def test_trial_events_before_their_study_are_retried_not_lost(reporter, study_script) -> None:
    s = study_script()
    s.requested("t0", 0)
    s.created()
    await reporter.publish(s.events)
    trial = reporter.repository.get_trial("t0")
    assert trial is not None and trial.number == 0
    assert await reporter.bus.dead_letters("reporter") == []
