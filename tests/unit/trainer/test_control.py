"""Epoch-end decisions: NaN guard, prune/stop requests, early stopping."""

from __future__ import annotations

from contracts.enums import ControlAction
from contracts.telemetry import EpochTelemetry
from services.trainer.control import ControlBoard, ControlRequest, EarlyStopping, StopReason, decide
from tests.support.telemetry import epoch_telemetry


def _epoch(epoch: int, loss: float | None = 0.5, val_loss: float | None = 0.5) -> EpochTelemetry:
    return epoch_telemetry(epoch, loss=loss, accuracy=0.5, val_loss=val_loss, val_accuracy=0.5)


def test_a_prune_request_outranks_an_earlier_stop() -> None:
    board = ControlBoard()
    board.request("t", ControlAction.STOP, "user")
    board.request("t", ControlAction.PRUNE, "median")
    board.request("t", ControlAction.STOP, "again")
    pending = board.pending("t")
    assert pending is not None and pending.action is ControlAction.PRUNE
    board.forget("t")
    assert board.pending("t") is None


def test_nan_loss_stops_training_as_diverged_even_when_a_prune_is_pending() -> None:
    decision = decide(_epoch(3, loss=None), ControlRequest(ControlAction.PRUNE, "x"), EarlyStopping(0))
    assert decision is not None and decision.reason is StopReason.DIVERGED
    assert "epoch 3" in decision.detail and "learning_rate" in decision.detail


def test_prune_and_stop_requests_end_training_at_the_epoch_boundary() -> None:
    pruned = decide(_epoch(1), ControlRequest(ControlAction.PRUNE, "below median"), EarlyStopping(0))
    stopped = decide(_epoch(1), ControlRequest(ControlAction.STOP, "user"), EarlyStopping(0))
    assert pruned is not None and pruned.reason is StopReason.PRUNED and pruned.detail == "below median"
    assert stopped is not None and stopped.reason is StopReason.STOPPED


def test_early_stopping_after_patience_epochs_without_improvement() -> None:
    stopper = EarlyStopping(2)
    losses = [1.0, 0.8, 0.85, 0.9]
    decisions = [decide(_epoch(i + 1, val_loss=v), None, stopper) for i, v in enumerate(losses)]
    assert decisions[:3] == [None, None, None]
    assert decisions[3] is not None and decisions[3].reason is StopReason.EARLY_STOPPED


def test_patience_zero_never_stops() -> None:
    stopper = EarlyStopping(0)
    assert all(decide(_epoch(i + 1, val_loss=1.0 + i), None, stopper) is None for i in range(10))
