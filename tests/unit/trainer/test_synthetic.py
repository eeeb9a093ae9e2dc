"""The synthetic trainer mode: no TensorFlow, fixed duration, deterministic metrics, control honoured."""

from __future__ import annotations

import time

from contracts.enums import ControlAction, DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.trainer.control import ControlRequest
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob
from services.trainer.settings import TrainerSettings
from services.trainer.synthetic import SyntheticTrialRunner, quality


def _job(params: dict[str, object], epochs: int = 4) -> TrialJob:
    request = TrialRequestedData(
        trial_number=0,
        params=params,
        dataset=DatasetName.DIGITS,
        max_epochs=epochs,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.SIMPLE,
    )
    return TrialJob("s", "t", request)


def test_a_synthetic_trial_takes_its_set_time_and_reports_each_epoch() -> None:
    epochs: list[EpochTelemetry] = []
    hooks = TrialHooks(started=lambda a, p: None, epoch_completed=epochs.append, control=lambda: None)
    runner = SyntheticTrialRunner(TrainerSettings(mode="synthetic", synthetic_seconds=0.2))
    began = time.perf_counter()
    outcome = runner.run(_job({"learning_rate": 0.01}), hooks)
    assert time.perf_counter() - began >= 0.2
    assert outcome.kind is OutcomeKind.COMPLETED and len(epochs) == 4
    assert outcome.metrics is not None and outcome.metrics.val_accuracy == epochs[-1].val_accuracy


def test_synthetic_quality_is_deterministic_and_depends_on_parameters() -> None:
    assert quality({"lr": 0.01, "act": "relu"}) == quality({"act": "relu", "lr": 0.01})
    assert quality({"lr": 0.01}) != quality({"lr": 0.3})


def test_a_synthetic_trial_is_pruned_at_the_epoch_end() -> None:
    request = ControlRequest(ControlAction.PRUNE, "below median")
    hooks = TrialHooks(started=lambda a, p: None, epoch_completed=lambda t: None, control=lambda: request)
    outcome = SyntheticTrialRunner(TrainerSettings(mode="synthetic", synthetic_seconds=0)).run(_job({}), hooks)
    assert outcome.kind is OutcomeKind.PRUNED and outcome.epochs_trained == 1
