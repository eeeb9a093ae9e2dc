"""A trainer's metrics: what it trains now, epoch by epoch, and how hard it works.

A trainer exports the series of the study it trains now (labels ``study`` and ``trainer``); starting a
trial of another study removes those of the previous one, and a study idle ``IDLE_STUDY_SECONDS`` goes
too, so a trainer that ran 50 studies exports what one study needs. Per-layer series (``layer``: the
model builder's layer names, at most ``MAX_LAYERS`` per model) are replaced at each trial's start.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Gauge, Histogram

from contracts.telemetry import EpochTelemetry, LayerTelemetry
from services.runtime.observability.series import Clock, StudySeries

EPOCH_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)
IDLE_STUDY_SECONDS = 1800.0
MAX_LAYERS = 32
SPLITS = (("train", "loss", "accuracy"), ("validation", "val_loss", "val_accuracy"))


class TrainingMetrics:
    def __init__(
        self, trainer: str, registry: CollectorRegistry | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        self.trainer = trainer
        self.registry = registry or CollectorRegistry()
        r = self.registry
        per_trial = ["study", "trainer"]
        self.busy = Gauge("hpo_trainer_busy", "1 while the trainer runs a trial.", ["trainer"], registry=r)
        self.epoch_seconds_histogram = Histogram(
            "hpo_epoch_seconds", "Epoch duration.", ["trainer"], buckets=EPOCH_BUCKETS, registry=r
        )
        self.trial_number = Gauge("hpo_trial_number", "Number of the current trial.", per_trial, registry=r)
        self.epoch = Gauge("hpo_trial_epoch", "Last epoch the current trial finished.", per_trial, registry=r)
        self.max_epochs = Gauge("hpo_trial_max_epochs", "Epochs the current trial may train.", per_trial, registry=r)
        self.loss = Gauge("hpo_trial_loss", "Loss at the last epoch.", [*per_trial, "split"], registry=r)
        self.accuracy = Gauge("hpo_trial_accuracy", "Accuracy at the last epoch.", [*per_trial, "split"], registry=r)
        self.epoch_seconds = Gauge("hpo_trial_epoch_seconds", "Wall time of the last epoch.", per_trial, registry=r)
        self.samples_per_second = Gauge(
            "hpo_trial_samples_per_second", "Training throughput of the last epoch.", per_trial, registry=r
        )
        self.memory = Gauge(
            "hpo_trial_memory_rss_bytes", "Resident memory of the training process.", per_trial, registry=r
        )
        per_layer = [*per_trial, "layer"]
        self.gradient_norm = Gauge(
            "hpo_layer_gradient_norm", "L2 norm of a layer's gradient on the probe batch.", per_layer, registry=r
        )
        self.dead_fraction = Gauge(
            "hpo_layer_dead_fraction", "Share of a layer's units that never activate.", per_layer, registry=r
        )
        self.saturated_fraction = Gauge(
            "hpo_layer_saturated_fraction", "Share of a layer's units pinned at saturation.", per_layer, registry=r
        )
        self.busy.labels(trainer).set(0)
        self.epoch_seconds_histogram.labels(trainer)
        self._layer_metrics = (self.gradient_norm, self.dead_fraction, self.saturated_fraction)
        self._series = StudySeries(max_studies=1, idle_seconds=IDLE_STUDY_SECONDS, clock=clock)

    def trial_started(self, study: str, trial_number: int, max_epochs: int) -> None:
        self.busy.labels(self.trainer).set(1)
        self._series.forget(study, only=self._layer_metrics)
        self._series.labels(self.trial_number, study, self.trainer).set(trial_number)
        self._series.labels(self.max_epochs, study, self.trainer).set(max_epochs)
        self._series.labels(self.epoch, study, self.trainer).set(0)

    def trial_ended(self) -> None:
        self.busy.labels(self.trainer).set(0)

    def epoch_completed(self, study: str, telemetry: EpochTelemetry) -> None:
        labels = (study, self.trainer)
        series = self._series
        self.epoch_seconds_histogram.labels(self.trainer).observe(telemetry.epoch_seconds)
        series.labels(self.epoch, *labels).set(telemetry.epoch)
        for split, loss, accuracy in SPLITS:
            _set_if_known(series.labels(self.loss, *labels, split), getattr(telemetry, loss))
            _set_if_known(series.labels(self.accuracy, *labels, split), getattr(telemetry, accuracy))
        series.labels(self.epoch_seconds, *labels).set(telemetry.epoch_seconds)
        series.labels(self.samples_per_second, *labels).set(telemetry.samples_per_second)
        series.labels(self.memory, *labels).set(telemetry.memory_rss_mb * 1024 * 1024)
        self._layers(study, telemetry.layers[:MAX_LAYERS])

    def _layers(self, study: str, layers: Sequence[LayerTelemetry]) -> None:
        for layer in layers:
            for metric, value in (
                (self.gradient_norm, layer.gradient_norm),
                (self.dead_fraction, layer.dead_fraction),
                (self.saturated_fraction, layer.saturated_fraction),
            ):
                if value is not None:
                    self._series.labels(metric, study, self.trainer, layer.name).set(value)


def _set_if_known(gauge: Gauge, value: float | None) -> None:
    """A NaN/Inf loss arrives as None: the gauge says NaN rather than keeping the last finite value."""
    gauge.set(float("nan") if value is None else value)
