"""Telemetry builders for the health tests (thin fixtures over ``tests.support.telemetry``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.telemetry import EpochTelemetry, LayerTelemetry, TrialMetrics
from tests.support.telemetry import epoch_curve, epoch_telemetry, layer_telemetry, trial_metrics


@pytest.fixture
def layer() -> Callable[..., LayerTelemetry]:
    """``layer(name, **LayerTelemetry fields)``: a Dense layer with 1000 parameters unless told."""
    return layer_telemetry


@pytest.fixture
def epoch() -> Callable[..., EpochTelemetry]:
    """``epoch(n, loss=, accuracy=, val_loss=, val_accuracy=, layers=)``."""
    return epoch_telemetry


@pytest.fixture
def curve() -> Callable[..., list[EpochTelemetry]]:
    """``curve(losses, val_losses=None, accuracies=None, val_accuracies=None, layers=())``: one epoch per loss."""
    return epoch_curve


@pytest.fixture
def metrics() -> Callable[..., TrialMetrics]:
    """``metrics(val_accuracy=0.9, parameter_count=5_000, epochs_trained=3)``."""
    return trial_metrics
