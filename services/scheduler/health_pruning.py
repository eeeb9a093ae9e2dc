"""``pruner=health``: stop a trial at the epoch its telemetry shows it cannot recover.

Each rule reads the trial's epochs so far, reduced to ``EpochSignals`` (what the trainer measured on its
probe batch), and names the reason it fires; none fires on a trial that merely learns slowly. A rule
needs the sign on ``SUSTAINED_EPOCHS`` consecutive epochs (one bad epoch can be noise), except a loss
that is already NaN/Inf, which nothing recovers from.

=====================  ==========================================================================
rule                   fires when
=====================  ==========================================================================
dead_layer             a layer has every unit dead (``dead_fraction >= ALL_DEAD``) on each of the
                       last ``SUSTAINED_EPOCHS`` epochs: no gradient passes it, so it stays dead
exploding_gradients    the largest layer gradient norm is above ``EXPLODING_NORM`` on each of the
                       last ``SUSTAINED_EPOCHS`` epochs and did not fall
vanishing_gradients    every measured layer's gradient norm is below ``VANISHING_NORM`` on each of
                       the last ``SUSTAINED_EPOCHS`` epochs: nothing learns any more
loss_to_nan            the training loss is NaN/Inf, or it rose on each of the last
                       ``SUSTAINED_EPOCHS`` epoch steps and is ``DIVERGED_FACTOR`` times its best
=====================  ==========================================================================
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from contracts.telemetry import EpochTelemetry

SUSTAINED_EPOCHS = 2
ALL_DEAD = 0.999
EXPLODING_NORM = 1e3
VANISHING_NORM = 1e-7
DIVERGED_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class EpochSignals:
    """What the health rules read of one epoch."""

    epoch: int
    loss: float | None
    loss_finite: bool
    gradient_norms: tuple[float, ...]
    dead_layers: tuple[str, ...]

    @classmethod
    def of(cls, telemetry: EpochTelemetry) -> EpochSignals:
        norms = tuple(layer.gradient_norm for layer in telemetry.layers if layer.gradient_norm is not None)
        dead = tuple(
            layer.name
            for layer in telemetry.layers
            if layer.dead_fraction is not None and layer.dead_fraction >= ALL_DEAD
        )
        loss = telemetry.loss
        return cls(telemetry.epoch, loss, loss is not None and math.isfinite(loss), norms, dead)


Rule = Callable[[Sequence[EpochSignals]], str | None]


def _recent(history: Sequence[EpochSignals]) -> Sequence[EpochSignals] | None:
    return history[-SUSTAINED_EPOCHS:] if len(history) >= SUSTAINED_EPOCHS else None


def dead_layer(history: Sequence[EpochSignals]) -> str | None:
    recent = _recent(history)
    if recent is None:
        return None
    always = set(recent[0].dead_layers).intersection(*(e.dead_layers for e in recent[1:]))
    if not always:
        return None
    names = ", ".join(sorted(always))
    return f"layer {names} has every unit dead since epoch {recent[0].epoch}: no gradient flows through it"


def exploding_gradients(history: Sequence[EpochSignals]) -> str | None:
    recent = _recent(history)
    if recent is None or any(not e.gradient_norms for e in recent):
        return None
    peaks = [max(e.gradient_norms) for e in recent]
    if all(p > EXPLODING_NORM for p in peaks) and all(b >= a for a, b in itertools.pairwise(peaks)):
        return (
            f"gradient norm above {EXPLODING_NORM:g} and not falling for {len(recent)} epochs "
            f"(largest {peaks[-1]:.3g} at epoch {recent[-1].epoch}): exploding gradients"
        )
    return None


def vanishing_gradients(history: Sequence[EpochSignals]) -> str | None:
    recent = _recent(history)
    if recent is None or any(not e.gradient_norms for e in recent):
        return None
    if all(max(e.gradient_norms) < VANISHING_NORM for e in recent):
        return (
            f"every layer's gradient norm below {VANISHING_NORM:g} for {len(recent)} epochs "
            f"(largest {max(recent[-1].gradient_norms):.3g} at epoch {recent[-1].epoch}): vanishing gradients"
        )
    return None


def loss_to_nan(history: Sequence[EpochSignals]) -> str | None:
    if not history:
        return None
    last = history[-1]
    if not last.loss_finite:  # the trainer sends a NaN/Inf loss as None
        return f"training loss is NaN/Inf at epoch {last.epoch}"
    if len(history) < SUSTAINED_EPOCHS + 1:
        return None
    losses = [e.loss for e in history]
    if any(loss is None for loss in losses):
        return None
    finite = [float(loss) for loss in losses if loss is not None]
    steps = finite[-(SUSTAINED_EPOCHS + 1) :]
    rising = all(b > a for a, b in itertools.pairwise(steps))
    best = min(finite)
    if rising and best > 0 and finite[-1] >= DIVERGED_FACTOR * best:
        return (
            f"training loss rose for {SUSTAINED_EPOCHS} epochs to {finite[-1]:.4g}, {finite[-1] / best:.1f}x its best "
            f"({best:.4g}): heading to NaN"
        )
    return None


RULES: dict[str, Rule] = {
    "dead_layer": dead_layer,
    "exploding_gradients": exploding_gradients,
    "vanishing_gradients": vanishing_gradients,
    "loss_to_nan": loss_to_nan,
}


def health_verdict(history: Sequence[EpochSignals]) -> str | None:
    """The first rule that fires, as ``health pruner (<rule>): <why>``; None when the trial may recover."""
    for name, rule in RULES.items():
        reason = rule(history)
        if reason is not None:
            return f"health pruner ({name}): {reason}"
    return None
