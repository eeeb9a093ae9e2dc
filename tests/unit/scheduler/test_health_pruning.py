"""Each health-pruning rule on constructed sick trials, and none of them on constructed healthy ones."""

from __future__ import annotations

import math

import pytest

from contracts.telemetry import EpochTelemetry, LayerTelemetry
from services.scheduler.health_pruning import (
    RULES,
    EpochSignals,
    dead_layer,
    exploding_gradients,
    health_verdict,
    loss_to_nan,
    vanishing_gradients,
)


def _epoch(
    epoch: int, loss: float | None, norms: tuple[float, float] = (0.5, 0.2), dead: tuple[float, float] = (0.1, 0.0)
) -> EpochSignals:
    layers = [
        LayerTelemetry(name="conv_1", kind="Conv2D", gradient_norm=norms[0], dead_fraction=dead[0]),
        LayerTelemetry(name="dense", kind="Dense", gradient_norm=norms[1], dead_fraction=dead[1]),
    ]
    telemetry = EpochTelemetry(epoch=epoch, loss=loss, accuracy=0.5, val_loss=loss, val_accuracy=0.5, layers=layers)
    return EpochSignals.of(telemetry)


HEALTHY: dict[str, list[EpochSignals]] = {
    "learning": [_epoch(1, 2.0), _epoch(2, 1.2), _epoch(3, 0.8), _epoch(4, 0.6)],
    "slow but steady": [_epoch(1, 2.3), _epoch(2, 2.25), _epoch(3, 2.2)],
    "noisy loss": [_epoch(1, 1.0), _epoch(2, 1.1), _epoch(3, 1.15), _epoch(4, 0.9)],  # rose twice, < 2x its best
    "one dead epoch": [_epoch(1, 2.0, dead=(1.0, 0.0)), _epoch(2, 1.5, dead=(0.6, 0.0))],
    "one large gradient": [_epoch(1, 2.0, norms=(5e3, 1.0)), _epoch(2, 1.5, norms=(2.0, 1.0))],
    "large but falling gradients": [_epoch(1, 2.0, norms=(5e3, 1.0)), _epoch(2, 1.5, norms=(2e3, 1.0))],
    "one small-gradient layer": [_epoch(1, 2.0, norms=(1e-9, 0.5)), _epoch(2, 1.8, norms=(1e-9, 0.4))],
    "first epoch": [_epoch(1, 2.3)],
    "no epochs": [],
}

SICK: dict[str, tuple[str, list[EpochSignals]]] = {
    "dead conv layer": ("dead_layer", [_epoch(1, 2.0, dead=(1.0, 0.1)), _epoch(2, 2.0, dead=(1.0, 0.2))]),
    "exploding": ("exploding_gradients", [_epoch(1, 5.0, norms=(2e3, 1.0)), _epoch(2, 6.0, norms=(9e4, 1.0))]),
    "vanishing": ("vanishing_gradients", [_epoch(1, 2.3, norms=(1e-9, 1e-8)), _epoch(2, 2.3, norms=(1e-10, 1e-8))]),
    "loss is NaN": ("loss_to_nan", [_epoch(1, 2.0), _epoch(2, None)]),
    "loss blowing up": ("loss_to_nan", [_epoch(1, 1.0), _epoch(2, 1.5), _epoch(3, 4.0)]),
}


@pytest.mark.parametrize("name", list(HEALTHY))
def test_no_rule_prunes_a_healthy_trial(name: str) -> None:
    history = HEALTHY[name]
    assert {rule: check(history) for rule, check in RULES.items()} == dict.fromkeys(RULES)
    assert health_verdict(history) is None


@pytest.mark.parametrize("name", list(SICK))
def test_each_rule_prunes_its_sick_trial_and_says_why(name: str) -> None:
    rule, history = SICK[name]
    verdict = health_verdict(history)
    assert verdict is not None and verdict.startswith(f"health pruner ({rule}): ")
    assert RULES[rule](history) is not None
    assert health_verdict(history[:-1]) is None  # one epoch earlier it could still recover


def test_the_reasons_name_the_layer_and_the_figures() -> None:
    dead = dead_layer(SICK["dead conv layer"][1])
    assert dead is not None and "conv_1" in dead and "dense" not in dead
    exploding = exploding_gradients(SICK["exploding"][1])
    assert exploding is not None and "9e+04" in exploding
    vanishing = vanishing_gradients(SICK["vanishing"][1])
    assert vanishing is not None and "1e-07" in vanishing
    blowup = loss_to_nan(SICK["loss blowing up"][1])
    assert blowup is not None and "4.0x its best" in blowup


def test_a_nan_loss_reads_as_not_finite() -> None:
    signals = _epoch(3, None)
    assert not signals.loss_finite and signals.loss is None
    assert EpochSignals.of(
        EpochTelemetry(epoch=1, loss=1.0, accuracy=None, val_loss=None, val_accuracy=None)
    ).loss_finite
    assert math.isfinite(_epoch(1, 1.0).loss or math.nan)
