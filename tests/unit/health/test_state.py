from __future__ import annotations

import pytest

from services.health.state import HealthState


def test_epochs_stay_ordered_and_a_repeated_epoch_replaces_the_old_one(epoch):
    state = HealthState()
    state.record("t1", 0, epoch(2, loss=0.5))
    state.record("t1", 0, epoch(1, loss=1.0))
    trial = state.record("t1", 0, epoch(2, loss=0.4))
    assert trial is not None
    assert [(e.epoch, e.loss) for e in trial.epochs] == [(1, 1.0), (2, 0.4)]


def test_finished_trials_are_dropped_and_late_epochs_ignored(epoch):
    state = HealthState()
    state.record("t1", 0, epoch(1))
    finished = state.finish("t1")
    assert finished is not None and len(finished.epochs) == 1
    assert "t1" not in state and len(state) == 0
    assert state.is_finished("t1")
    assert state.record("t1", 0, epoch(2)) is None
    assert "t1" not in state


def test_least_recently_updated_trial_is_dropped_beyond_the_bound(epoch):
    state = HealthState(max_trials=2, max_finished=1)
    state.record("a", 0, epoch(1))
    state.record("b", 1, epoch(1))
    state.record("a", 0, epoch(2))
    state.record("c", 2, epoch(1))
    assert "b" not in state and "a" in state and "c" in state
    state.finish("a")
    state.finish("c")
    assert not state.is_finished("a") and state.is_finished("c")


def test_bounds_must_be_sane():
    with pytest.raises(ValueError):
        HealthState(max_trials=0)
