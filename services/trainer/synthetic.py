"""A trainer mode without TensorFlow, for pipeline tests and benchmarks: each trial sleeps for a fixed
time spread over its epochs and reports metrics that depend smoothly and deterministically on its
parameters, so samplers and pruners have something real to optimize. Prune and stop requests are
honoured at epoch ends exactly as in the Keras runner.
"""

from __future__ import annotations

import hashlib
import math
import time

from contracts.architecture import LayerSpec
from contracts.telemetry import EpochTelemetry, LayerTelemetry, TrialMetrics
from services.trainer.control import EarlyStopping, StopReason, decide
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.settings import TrainerSettings


def quality(params: dict[str, object]) -> float:
    """A value in (0, 1) per parameter set: numbers near the middle of their log range score higher."""
    score = 0.0
    for name, value in sorted(params.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            digest = hashlib.sha256(f"{name}={value}".encode()).digest()
            score += digest[0] / 255 - 0.5
        else:
            magnitude = math.log10(abs(float(value)) + 1e-9)
            score -= 0.1 * (magnitude - round(magnitude) + 0.2) ** 2
    return 1 / (1 + math.exp(-score))


class SyntheticTrialRunner:
    def __init__(self, settings: TrainerSettings) -> None:
        self._settings = settings

    def close(self) -> None:
        """Nothing to release: trials run in the calling thread."""

    def run(self, job: TrialJob, hooks: TrialHooks) -> TrialOutcome:
        request = job.request
        target = 0.5 + 0.49 * quality(request.params)
        epochs = request.max_epochs
        pause = self._settings.synthetic_seconds / epochs
        hooks.layers_built([LayerSpec(name="dense", kind="Dense", output_shape=[10], units=10, parameter_count=1000)])
        hooks.started("synthetic", 1000)
        early_stopping = EarlyStopping(0)
        history: list[EpochTelemetry] = []
        for epoch in range(1, epochs + 1):
            if pause > 0:
                time.sleep(pause)
            progress = epoch / epochs
            val_accuracy = target * (0.6 + 0.4 * progress)
            telemetry = EpochTelemetry(
                epoch=epoch,
                loss=1.0 - 0.5 * progress,
                accuracy=min(1.0, val_accuracy + 0.02),
                val_loss=1.0 - 0.45 * progress,
                val_accuracy=val_accuracy,
                epoch_seconds=pause,
                layers=[LayerTelemetry(name="dense", kind="Dense", parameter_count=1000, gradient_norm=0.5)],
            )
            history.append(telemetry)
            hooks.epoch_completed(telemetry)
            if epoch < epochs:
                hooks.await_verdict(epoch)
            decision = decide(telemetry, hooks.control(), early_stopping)
            if decision is not None and decision.reason is StopReason.PRUNED:
                return TrialOutcome(OutcomeKind.PRUNED, epoch, reason=decision.detail, last_val_accuracy=val_accuracy)
            if decision is not None:
                break
        last = history[-1]
        metrics = TrialMetrics(
            val_accuracy=last.val_accuracy or 0.0,
            accuracy=last.accuracy or 0.0,
            val_loss=last.val_loss,
            loss=last.loss,
            training_seconds=pause * len(history),
            parameter_count=1000,
            memory_mb=1.0,
            epochs_trained=len(history),
        )
        return TrialOutcome(
            OutcomeKind.COMPLETED,
            len(history),
            metrics=metrics,
            architecture="synthetic",
            stopped_early=len(history) < epochs,
            last_val_accuracy=last.val_accuracy,
        )
