"""Which trial events still count once a trial has ended: the rule every read side applies.

A trial attempt ends once (completed, pruned or failed). Afterwards its lifecycle events (started,
epochs, another ending) come from an attempt that is no longer current, typically a trainer frozen
past its lease that woke up after the scheduler had failed its trial and retried it elsewhere; they
must not change what the read models, the live stream or Optuna say. The one exception is the
scheduler's own ``trial.failed`` (a lease that ran out): the scheduler is Optuna's only writer, so
its verdict is the final word even when a trainer's result reached a reader first.
"""

from __future__ import annotations

from contracts.events import EventEnvelope

LIFECYCLE_TYPES = frozenset(
    {"trial.started", "trial.epoch_completed", "trial.completed", "trial.pruned", "trial.failed"}
)
SCHEDULER_SOURCE = "scheduler"


def is_final_word(event: EventEnvelope) -> bool:
    """The scheduler failing a trial: applies whatever a reader saw before."""
    return event.type == "trial.failed" and event.source == SCHEDULER_SOURCE


def is_stale(event: EventEnvelope, *, trial_ended: bool) -> bool:
    """True when ``event`` must not change a trial that has ``trial_ended``."""
    return trial_ended and event.type in LIFECYCLE_TYPES and not is_final_word(event)


def ends_trial(event: EventEnvelope) -> bool:
    return event.type in {"trial.completed", "trial.pruned", "trial.failed"}
