"""Control of a running trial: prune/stop requests, the NaN guard and early stopping, at epoch ends.

``ControlBoard`` is written by the event loop (``trial.control`` events) and read by the training
thread: the pending request that ends a trial (superseded outranks prune, prune outranks stop) and
the last epoch the pruner judged (``continue`` verdicts), which the training thread may wait for at
an epoch boundary. ``EpochDecision`` says why training stopped before ``max_epochs``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import StrEnum

from contracts.enums import ControlAction
from contracts.telemetry import EpochTelemetry


@dataclass(frozen=True)
class ControlRequest:
    action: ControlAction
    reason: str


_RANK = {ControlAction.STOP: 1, ControlAction.PRUNE: 2, ControlAction.SUPERSEDED: 3}


class ControlBoard:
    """Thread-safe control state per trial: the strongest pending request and the last judged epoch."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._requests: dict[str, ControlRequest] = {}
        self._judged: dict[str, int] = {}

    def request(self, trial_id: str, action: ControlAction, reason: str, epoch: int | None = None) -> None:
        with self._changed:
            if action is ControlAction.CONTINUE:
                if epoch is not None:
                    self._judged[trial_id] = max(epoch, self._judged.get(trial_id, 0))
            else:
                current = self._requests.get(trial_id)
                if current is None or _RANK[action] > _RANK[current.action]:
                    self._requests[trial_id] = ControlRequest(action, reason)
                if epoch is not None:
                    self._judged[trial_id] = max(epoch, self._judged.get(trial_id, 0))
            self._changed.notify_all()

    def pending(self, trial_id: str) -> ControlRequest | None:
        with self._changed:
            return self._requests.get(trial_id)

    def judged(self, trial_id: str) -> int:
        """The last epoch the pruner has judged (0: none yet)."""
        with self._changed:
            return self._judged.get(trial_id, 0)

    def wait_for_verdict(self, trial_id: str, epoch: int, timeout: float) -> bool:
        """Block until the pruner judged ``epoch`` (or a request ended the trial); False after ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._judged.get(trial_id, 0) >= epoch or trial_id in self._requests, timeout
            )

    def forget(self, trial_id: str) -> None:
        with self._changed:
            self._requests.pop(trial_id, None)
            self._judged.pop(trial_id, None)


class StopReason(StrEnum):
    DIVERGED = "diverged"
    PRUNED = "pruned"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"


@dataclass(frozen=True)
class EpochDecision:
    reason: StopReason
    detail: str


class EarlyStopping:
    """Stops after ``patience`` epochs without a lower validation loss (``patience=0`` never stops)."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self._best = math.inf
        self._stale = 0

    def update(self, val_loss: float | None) -> bool:
        if self.patience <= 0 or val_loss is None:
            return False
        if val_loss < self._best - 1e-4:
            self._best, self._stale = val_loss, 0
            return False
        self._stale += 1
        return self._stale >= self.patience


def decide(
    telemetry: EpochTelemetry, control: ControlRequest | None, early_stopping: EarlyStopping
) -> EpochDecision | None:
    """Whether training stops after this epoch, and why (None: go on)."""
    if telemetry.loss is None:
        return EpochDecision(
            StopReason.DIVERGED,
            f"training loss became NaN/Inf at epoch {telemetry.epoch} (diverged); try a lower learning_rate",
        )
    if control is not None:
        reason = StopReason.PRUNED if control.action is ControlAction.PRUNE else StopReason.STOPPED
        return EpochDecision(reason, control.reason)
    if early_stopping.update(telemetry.val_loss):
        return EpochDecision(StopReason.EARLY_STOPPED, f"val_loss did not improve for {early_stopping.patience} epochs")
    return None
