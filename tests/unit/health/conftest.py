"""Builders of telemetry for the health tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from contracts.telemetry import EpochTelemetry, LayerTelemetry, TrialMetrics

LayerFactory = Callable[..., LayerTelemetry]
EpochFactory = Callable[..., EpochTelemetry]


def _layer(name: str = "dense", **fields: Any) -> LayerTelemetry:
    fields.setdefault("kind", "Dense")
    fields.setdefault("parameter_count", 1000)
    return LayerTelemetry(name=name, **fields)


def _epoch(
    epoch: int = 1,
    loss: float | None = 1.0,
    accuracy: float | None = 0.8,
    val_loss: float | None = 1.0,
    val_accuracy: float | None = 0.8,
    layers: Sequence[LayerTelemetry] = (),
) -> EpochTelemetry:
    return EpochTelemetry(
        epoch=epoch, loss=loss, accuracy=accuracy, val_loss=val_loss, val_accuracy=val_accuracy, layers=list(layers)
    )


@pytest.fixture
def layer() -> LayerFactory:
    """``layer(name, **LayerTelemetry fields)``: a Dense layer with 1000 parameters unless told."""
    return _layer


@pytest.fixture
def epoch() -> EpochFactory:
    """``epoch(n, loss=, accuracy=, val_loss=, val_accuracy=, layers=)``."""
    return _epoch


@pytest.fixture
def curve() -> Callable[..., list[EpochTelemetry]]:
    """``curve(losses, val_losses=None, accuracies=None, val_accuracies=None, layers=())``: one epoch per loss."""

    def build(
        losses: Sequence[float | None],
        val_losses: Sequence[float | None] | None = None,
        accuracies: Sequence[float | None] | None = None,
        val_accuracies: Sequence[float | None] | None = None,
        layers: Sequence[LayerTelemetry] = (),
    ) -> list[EpochTelemetry]:
        n = len(losses)
        return [
            _epoch(
                i + 1,
                loss=losses[i],
                val_loss=(val_losses or losses)[i],
                accuracy=(accuracies or [0.8] * n)[i],
                val_accuracy=(val_accuracies or [0.8] * n)[i],
                layers=layers,
            )
            for i in range(n)
        ]

    return build


@pytest.fixture
def metrics() -> Callable[..., TrialMetrics]:
    def build(val_accuracy: float = 0.9, parameter_count: int = 5_000, epochs_trained: int = 3) -> TrialMetrics:
        return TrialMetrics(
            val_accuracy=val_accuracy,
            accuracy=val_accuracy,
            training_seconds=1.0,
            parameter_count=parameter_count,
            memory_mb=10.0,
            epochs_trained=epochs_trained,
        )

    return build
