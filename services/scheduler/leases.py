"""Leases on running trials. Optuna's heartbeat does not cover ask/tell, so the scheduler keeps its
own: every heartbeat or epoch event renews a trial's lease; a trial whose lease runs out is failed
and retried (bounded) by the scheduler."""

from __future__ import annotations

import time
from collections.abc import Callable


class LeaseTable:
    def __init__(self, lease_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._deadlines: dict[str, float] = {}

    def renew(self, trial_id: str) -> None:
        self._deadlines[trial_id] = self._clock() + self._lease_seconds

    def release(self, trial_id: str) -> None:
        self._deadlines.pop(trial_id, None)

    def expired(self) -> list[str]:
        now = self._clock()
        return [trial_id for trial_id, deadline in self._deadlines.items() if deadline < now]

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._deadlines

    def __len__(self) -> int:
        return len(self._deadlines)
