"""One trial with Keras: build the model for the dataset's modality, fit it epoch by epoch with
telemetry, evaluate, save the model. A NaN/Inf loss or a prune/stop request ends training at the
next batch (the cut-short epoch is still measured and reported); early stopping acts at epoch ends.

Runs in a worker thread; everything it reports goes through ``TrialHooks``.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contracts.enums import ControlAction
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.errors import TrialFailure, UserInputError
from services.trainer.control import EarlyStopping, EpochDecision, StopReason, decide
from services.trainer.data_access import resolve_data_dir
from services.trainer.dataset_cache import DatasetCache
from services.trainer.datasets import DatasetSplits, LoadOptions
from services.trainer.evaluation.test_set import TestResults, evaluate_test_split
from services.trainer.memory import release_trial_memory
from services.trainer.models.builder import BuiltModel, build_model
from services.trainer.models.params import TrialParams
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.pipeline import TrialInputs, build_inputs, features
from services.trainer.settings import TrainerSettings
from services.trainer.telemetry.collector import TelemetryCollector

log = logging.getLogger(__name__)


class EpochReporter(keras.callbacks.Callback):
    """Measures and reports each epoch, then decides whether training goes on.

    ``async_safe``: Keras runs the batch-end hook on a helper thread, so reading each batch's loss
    does not stall the training loop; ``on_epoch_end`` runs after every pending batch hook.
    """

    async_safe = True

    def __init__(
        self,
        collector: TelemetryCollector,
        hooks: TrialHooks,
        train_size: int,
        batch_size: int,
        patience: int,
        max_epochs: int,
    ) -> None:
        super().__init__()
        self._max_epochs = max_epochs
        self._collector = collector
        self._hooks = hooks
        self._train_size = train_size
        self._batch_size = batch_size
        self._early_stopping = EarlyStopping(patience)
        self._epoch_started = 0.0
        self._last_batch_ended = 0.0
        self._batches = 0
        self._batch_lock = threading.Lock()
        self.history: list[EpochTelemetry] = []
        self.decision: EpochDecision | None = None

    def superseded(self) -> bool:
        """The attempt was given up (or handed back) while it trained: its trainer publishes no result."""
        request = self._hooks.control()
        return request is not None and request.action is ControlAction.SUPERSEDED

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_started = self._last_batch_ended = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Stop inside the epoch on a NaN/Inf loss or a pending control request; the epoch end still reports."""
        with self._batch_lock:
            self._batches += 1
            self._last_batch_ended = max(self._last_batch_ended, time.perf_counter())
        loss = (logs or {}).get("loss")
        if (loss is not None and not math.isfinite(float(loss))) or self._hooks.control() is not None:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        epoch_seconds = time.perf_counter() - self._epoch_started
        samples = min(self._batches * self._batch_size, self._train_size)
        train_seconds = self._last_batch_ended - self._epoch_started
        telemetry = self._collector.measure(epoch + 1, logs or {}, epoch_seconds, samples / max(train_seconds, 1e-9))
        self.history.append(telemetry)
        self._hooks.epoch_completed(telemetry)
        if epoch + 1 < self._max_epochs:
            self._hooks.await_verdict(epoch + 1)
        self.decision = decide(telemetry, self._hooks.control(), self._early_stopping)
        if self.decision is not None:
            self.model.stop_training = True


def warm_up_tensorflow() -> None:
    """Run one tiny op, so that TensorFlow sets up its devices and thread pools before a trial needs them."""
    tf.reduce_sum(tf.ones((2, 2))).numpy()


class KerasTrialRunner:
    def __init__(self, settings: TrainerSettings, artifacts: ArtifactStore, cache: DatasetCache) -> None:
        self._settings = settings
        self._artifacts = artifacts
        self._cache = cache

    def close(self) -> None:
        """Nothing to release: trials run in the calling thread."""

    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        try:
            return self._train(job, hooks)
        except (TrialFailure, UserInputError) as e:
            return TrialOutcome(OutcomeKind.FAILED, 0, reason=str(e))
        except tf.errors.ResourceExhaustedError as e:
            return TrialOutcome(OutcomeKind.FAILED, 0, reason=f"out of memory: {_first_line(e.message)}")
        except Exception as e:  # a bad parameter combination or a crash inside TensorFlow
            log.exception("trial %d crashed", job.request.trial_number)
            return TrialOutcome(OutcomeKind.FAILED, 0, reason=f"{type(e).__name__}: {_first_line(str(e))}")
        finally:
            release_trial_memory()

    def load_splits(self, request: TrialRequestedData) -> DatasetSplits:
        """The trial's dataset, from this runner's cache (loaded on a miss; raises ``DatasetError``)."""
        data_dir = resolve_data_dir(request.data_dir, self._settings)
        options = LoadOptions(request.on_bad_files, request.text_column, request.label_column)
        return self._cache.get(
            request.dataset,
            data_dir,
            request.max_samples,
            allow_download=self._settings.allow_download,
            options=options,
        )

    def _train(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        request = job.request
        splits = self.load_splits(request)
        hooks.data_loaded(splits.note_lines())
        if request.seed is not None:
            keras.utils.set_random_seed(request.seed)
        params = TrialParams(request.params)
        seed = request.seed if request.seed is not None else 0
        inputs = build_inputs(splits, params, seed=seed, probe_samples=self._settings.probe_samples)
        built = build_model(splits.modality, params, inputs.input_shape, splits.num_classes)
        hooks.layers_built(list(built.layers))
        hooks.started(built.architecture, built.parameter_count)
        collector = TelemetryCollector(built.model, inputs.probe_x, inputs.probe_y, self._settings.histogram_bins)
        batch_size = params.integer("batch_size", 32)
        patience = self._settings.early_stopping_patience
        reporter = EpochReporter(collector, hooks, inputs.train_size, batch_size, patience, request.max_epochs)
        fit_started = time.perf_counter()
        built.model.fit(
            inputs.train,
            validation_data=inputs.validation,
            epochs=request.max_epochs,
            shuffle=False,  # the pipeline shuffles
            verbose=0,
            callbacks=[reporter],
        )
        fit_seconds = time.perf_counter() - fit_started
        return self._conclude(job, built, inputs, reporter, fit_seconds, _TestSplit(splits, params, seed))

    def _conclude(
        self,
        job: TrialJob,
        built: BuiltModel,
        inputs: TrialInputs,
        reporter: EpochReporter,
        fit_seconds: float,
        test: _TestSplit,
    ) -> TrialOutcome:
        epochs = len(reporter.history)
        last = reporter.history[-1] if reporter.history else None
        decision = reporter.decision
        if last is None:
            return TrialOutcome(OutcomeKind.FAILED, 0, reason="training ran no epoch")
        if reporter.superseded():  # nothing of it is published: no test evaluation, no saved model
            return TrialOutcome(OutcomeKind.FAILED, epochs, reason="superseded", architecture=built.architecture)
        if decision is not None and decision.reason is StopReason.DIVERGED:
            return TrialOutcome(OutcomeKind.FAILED, epochs, reason=decision.detail, architecture=built.architecture)
        if decision is not None and decision.reason is StopReason.PRUNED:
            return TrialOutcome(
                OutcomeKind.PRUNED,
                epochs,
                reason=decision.detail,
                architecture=built.architecture,
                last_val_accuracy=last.val_accuracy,
            )
        tested = test.evaluate(built.model) if _has_batches(inputs) else None
        size = self._save_model(job, built)
        metrics = TrialMetrics(
            val_accuracy=last.val_accuracy or 0.0,
            accuracy=last.accuracy or 0.0,
            val_loss=last.val_loss,
            loss=last.loss,
            test_accuracy=tested.accuracy if tested else None,
            test_loss=tested.loss if tested else None,
            test_ece=tested.ece if tested else None,
            test_robustness=tested.robustness if tested else {},
            test_split=test.splits.test_source[:300],
            training_seconds=fit_seconds,
            parameter_count=built.parameter_count,
            memory_mb=built.memory_mb,
            epochs_trained=epochs,
        )
        return TrialOutcome(
            OutcomeKind.COMPLETED,
            epochs,
            reason=decision.detail if decision else "",
            metrics=metrics,
            architecture=built.architecture,
            stopped_early=decision is not None,
            last_val_accuracy=last.val_accuracy,
            model_key=job.model_key,
            model_size_bytes=size,
        )

    def _save_model(self, job: TrialJob, built: BuiltModel) -> int:
        self._settings.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._settings.work_dir) as scratch:
            path = Path(scratch) / "model.keras"
            built.model.save(path)
            return self._artifacts.put_file(job.model_key, path)


@dataclass(frozen=True)
class _TestSplit:
    """The held-out split of a trial, evaluated once after training (``evaluation.test_set``)."""

    splits: DatasetSplits
    params: TrialParams
    seed: int

    def evaluate(self, model: keras.Model) -> TestResults:
        x = features(self.splits.test, self.splits.modality, self.params)
        batch_size = max(self.params.integer("batch_size", 32), 128)
        return evaluate_test_split(
            model, x, self.splits.test.y, self.splits.modality, batch_size=batch_size, seed=self.seed
        )


def _has_batches(inputs: TrialInputs) -> bool:
    return int(inputs.test.cardinality().numpy()) != 0


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no message"
    return line[:300]
