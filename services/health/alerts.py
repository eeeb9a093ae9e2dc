"""Alerts: the specific problems a trial's telemetry shows, each named once per (kind, layer).

=====================  ========  ===========================================================
kind                   severity  raised when (thresholds in ``services.health.thresholds``)
=====================  ========  ===========================================================
vanishing_gradients    warning   a layer's gradient norm < 1e-7 (critical when every layer's is)
exploding_gradients    critical  a layer's gradient norm > 1e3, or NaN/Inf/missing
exploding_gradients    warning   a layer's norm > 1 and >= 100x its norm the epoch before
dead_layer             warning   > 50% of a layer's units dead (critical at >= 90%)
saturated_layer        warning   > 50% of a layer's units saturated (critical at >= 90%)
divergence             critical  training loss NaN/Inf, or >= 2x its best so far
divergence             warning   training loss rose (> 1%) two epochs running, > 10% above its best
overfitting            warning   validation loss rose (> 1%) two epochs running while training loss
                                 fell both times, or train - validation accuracy > 0.15
=====================  ========  ===========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from contracts.enums import AlertKind, Severity
from contracts.health import HealthAlert
from contracts.telemetry import EpochTelemetry
from services.health import thresholds as t
from services.health.components import GradientStatus, finite, gradient_findings, relative_change

AlertKey = tuple[AlertKind, str | None]


def detect_alerts(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    """Every problem visible in ``history``, once per (kind, layer), at the first epoch it showed.

    Each epoch is judged on itself and the epochs before it only, so calling this after every new
    epoch and keeping the (kind, layer) pairs not seen before gives the same alerts, in the same
    order, as one call at the end.
    """
    found: dict[AlertKey, HealthAlert] = {}
    for end in range(1, len(history) + 1):
        for alert in _alerts_at(history[:end]):
            found.setdefault((alert.kind, alert.layer), alert)
    return list(found.values())


def latest_alerts(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    """The alerts the last epoch of ``history`` raises (judged against the epochs before it), at most
    one per (kind, layer): what ``detect_alerts`` adds for that epoch, at a cost linear in the history."""
    found: dict[AlertKey, HealthAlert] = {}
    for alert in _alerts_at(history) if history else []:
        found.setdefault((alert.kind, alert.layer), alert)
    return list(found.values())


def alert_key(alert: HealthAlert) -> AlertKey:
    return (alert.kind, alert.layer)


def _alert(
    kind: AlertKind, severity: Severity, message: str, epoch: EpochTelemetry, layer: str | None = None
) -> HealthAlert:
    return HealthAlert(kind=kind, severity=severity, message=message, epoch=epoch.epoch, layer=layer)


def _alerts_at(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    return [*_gradient_alerts(history), *_activation_alerts(history[-1]), *_divergence(history), *_overfitting(history)]


def _gradient_alerts(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    epoch = history[-1]
    findings = gradient_findings(epoch, history[-2] if len(history) >= 2 else None)
    if not findings:
        return []
    all_vanishing = all(f.status is GradientStatus.VANISHING for f in findings)
    alerts: list[HealthAlert] = []
    for f in findings:
        if f.status is GradientStatus.VANISHING:
            severity = Severity.CRITICAL if all_vanishing else Severity.WARNING
            kind = AlertKind.VANISHING_GRADIENTS
            text = f"gradient norm {f.norm:.1e} is below {t.VANISHING_NORM:.0e}: its weights barely change"
        elif f.status is GradientStatus.EXPLODING:
            severity, kind = Severity.CRITICAL, AlertKind.EXPLODING_GRADIENTS
            text = f"gradient norm {f.norm:.1e} exceeds {t.EXPLODING_NORM:.0e}: exploding gradient"
        elif f.status is GradientStatus.NON_FINITE:
            severity, kind = Severity.CRITICAL, AlertKind.EXPLODING_GRADIENTS
            text = "gradient norm is NaN/Inf (or missing): exploding gradient"
        elif f.status is GradientStatus.GROWING:
            severity, kind = Severity.WARNING, AlertKind.EXPLODING_GRADIENTS
            text = f"gradient norm grew {f.growth:.0f}x in one epoch, to {f.norm:.1e}: gradients are exploding"
        else:
            continue
        alerts.append(_alert(kind, severity, f"Layer {f.layer}: {text}.", epoch, f.layer))
    return alerts


def _activation_alerts(epoch: EpochTelemetry) -> list[HealthAlert]:
    alerts: list[HealthAlert] = []
    for layer in epoch.layers:
        for kind, share, limit, word in (
            (AlertKind.DEAD_LAYER, finite(layer.dead_fraction), t.DEAD_LAYER_FRACTION, "dead (never activate)"),
            (AlertKind.SATURATED_LAYER, finite(layer.saturated_fraction), t.SATURATED_LAYER_FRACTION, "saturated"),
        ):
            if share is None or share <= limit:
                continue
            severity = Severity.CRITICAL if share >= t.CRITICAL_LAYER_FRACTION else Severity.WARNING
            message = f"Layer {layer.name}: {share:.0%} of its units are {word} on the probe batch."
            alerts.append(_alert(kind, severity, message, epoch, layer.name))
    return alerts


def _rose(old: float | None, new: float | None) -> bool:
    return old is not None and new is not None and relative_change(old, new) > t.RISE_TOLERANCE


def _fell(old: float | None, new: float | None) -> bool:
    return old is not None and new is not None and new < old


def _divergence(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    epoch = history[-1]
    loss = finite(epoch.loss)
    if loss is None:
        message = f"Training loss became NaN/Inf at epoch {epoch.epoch}: training diverged."
        return [_alert(AlertKind.DIVERGENCE, Severity.CRITICAL, message, epoch)]
    earlier = [v for e in history[:-1] if (v := finite(e.loss)) is not None]
    if not earlier:
        return []
    best = min(earlier)
    if best > 0 and loss >= t.DIVERGENCE_BLOWUP * best:
        message = f"Training loss jumped to {loss:.4g}, {loss / best:.1f}x its best ({best:.4g}): diverging."
        return [_alert(AlertKind.DIVERGENCE, Severity.CRITICAL, message, epoch)]
    recent = [finite(e.loss) for e in history[-(t.CONSECUTIVE_RISES + 1) :]]
    rising = len(recent) == t.CONSECUTIVE_RISES + 1 and all(_rose(a, b) for a, b in pairwise(recent))
    if rising and relative_change(best, loss) > t.DIVERGENCE_ABOVE_BEST:
        message = (
            f"Training loss rose {t.CONSECUTIVE_RISES} epochs running to {loss:.4g}, "
            f"{relative_change(best, loss):.0%} above its best ({best:.4g}): diverging."
        )
        return [_alert(AlertKind.DIVERGENCE, Severity.WARNING, message, epoch)]
    return []


def _overfitting(history: Sequence[EpochTelemetry]) -> list[HealthAlert]:
    epoch = history[-1]
    acc, val = finite(epoch.accuracy), finite(epoch.val_accuracy)
    if acc is not None and val is not None and acc - val > t.OVERFIT_GAP_ALERT:
        message = (
            f"Overfitting: training accuracy {acc:.3f} vs validation {val:.3f}, "
            f"a gap of {acc - val:.2f} (> {t.OVERFIT_GAP_ALERT:.2f})."
        )
        return [_alert(AlertKind.OVERFITTING, Severity.WARNING, message, epoch)]
    window = history[-(t.CONSECUTIVE_RISES + 1) :]
    if len(window) < t.CONSECUTIVE_RISES + 1:
        return []
    val_losses = [finite(e.val_loss) for e in window]
    losses = [finite(e.loss) for e in window]
    val_rising = all(_rose(a, b) for a, b in pairwise(val_losses))
    train_falling = all(_fell(a, b) for a, b in pairwise(losses))
    if val_rising and train_falling:
        message = (
            f"Overfitting: validation loss rose {t.CONSECUTIVE_RISES} epochs running "
            f"({val_losses[0]:.4g} -> {val_losses[-1]:.4g}) while training loss fell "
            f"({losses[0]:.4g} -> {losses[-1]:.4g})."
        )
        return [_alert(AlertKind.OVERFITTING, Severity.WARNING, message, epoch)]
    return []
