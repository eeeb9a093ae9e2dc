"""The Keras trial runner on its own: NaN guard, batch-level stop, memory release."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from contracts.enums import ControlAction, DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.control import ControlRequest
from services.trainer.dataset_cache import DatasetCache
from services.trainer.datasets import Split, load_dataset
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob
from services.trainer.settings import TrainerSettings
from services.trainer.training import KerasTrialRunner

PARAMS = {"conv_blocks": 1, "filters": 8, "dense_units": 16, "batch_size": 16}


def _runner(tmp_path: Path, cache: DatasetCache) -> KerasTrialRunner:
    settings = TrainerSettings(trainer_id="t", work_dir=tmp_path / "work")
    return KerasTrialRunner(settings, LocalArtifactStore(tmp_path / "artifacts"), cache)


def _job(max_epochs: int = 3, **params: object) -> TrialJob:
    request = TrialRequestedData(
        trial_number=0,
        params={**PARAMS, **params},
        dataset=DatasetName.DIGITS,
        max_samples=200,
        max_epochs=max_epochs,
        seed=3,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.HEALTH,
    )
    return TrialJob("s", "t", request)


def test_a_nan_loss_stops_the_trial_in_its_first_epoch_as_failed(tmp_path: Path) -> None:
    splits = load_dataset(DatasetName.DIGITS, None, max_samples=200)
    poisoned_x = splits.train.x.copy()
    poisoned_x[:] = np.nan
    cache = DatasetCache()
    cache.put(DatasetName.DIGITS, None, 200, replace(splits, train=Split(poisoned_x, splits.train.y)))
    epochs: list[EpochTelemetry] = []
    hooks = TrialHooks(started=lambda a, p: None, epoch_completed=epochs.append, control=lambda: None)

    # tanh passes NaN on (recent TensorFlow builds turn relu(NaN) into 0, which would hide the poison)
    outcome = _runner(tmp_path, cache).run(_job(activation="tanh"), hooks)

    assert outcome.kind is OutcomeKind.FAILED
    assert "NaN" in outcome.reason and "epoch 1" in outcome.reason
    assert len(epochs) == 1 and epochs[0].loss is None
    assert outcome.epochs_trained == 1


def test_a_stop_request_ends_the_trial_inside_the_epoch_and_keeps_the_model(tmp_path: Path) -> None:
    epochs: list[EpochTelemetry] = []
    stop = ControlRequest(ControlAction.STOP, "user asked")
    hooks = TrialHooks(started=lambda a, p: None, epoch_completed=epochs.append, control=lambda: stop)

    outcome = _runner(tmp_path, DatasetCache()).run(_job(max_epochs=5), hooks)

    assert outcome.kind is OutcomeKind.COMPLETED and outcome.stopped_early
    assert len(epochs) == 1 and outcome.reason == "user asked"
    assert outcome.metrics is not None and outcome.metrics.epochs_trained == 1
    assert outcome.model_key is not None and (tmp_path / "artifacts" / outcome.model_key).is_file()
