"""Per-study series that do not pile up: every label set a study uses is remembered, and removed when
the study is forgotten, has been idle too long, or is the least recently seen of too many.

A metric labelled by study grows with every study a long-lived service sees; ``StudySeries`` keeps
that bounded. Each metric given to it has ``study`` as its first label.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

Clock = Callable[[], float]


@dataclass
class _Study:
    seen: float
    ended: bool = False
    labels: dict[MetricWrapperBase, set[tuple[str, ...]]] = field(default_factory=dict)


class StudySeries:
    """The label sets of per-study metrics, removed together.

    - ``forget(study)`` removes them at once; ``end(study)`` marks the study ended: its series stay
      ``ended_ttl_seconds`` more (so a last scrape sees its final values), then go.
    - A study not seen for ``idle_seconds`` is forgotten (a service that never learns the end).
    - At most ``max_studies`` studies are kept: beyond that an ended study goes first, then the least
      recently seen. With ``evict_running=False`` running studies are never evicted and the cap counts
      ended studies only.
    """

    def __init__(
        self,
        *,
        max_studies: int,
        idle_seconds: float,
        ended_ttl_seconds: float = 0.0,
        evict_running: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self._max_studies = max_studies
        self._idle_seconds = idle_seconds
        self._ended_ttl = ended_ttl_seconds
        self._evict_running = evict_running
        self._clock = clock
        self._studies: OrderedDict[str, _Study] = OrderedDict()

    def labels(self, metric: MetricWrapperBase, study: str, *rest: str) -> Any:
        """``metric.labels(study, *rest)``, remembered for ``study`` (and the study marked as seen now)."""
        entry = self._touch(study)
        values = (study, *rest)
        entry.labels.setdefault(metric, set()).add(values)
        return metric.labels(*values)

    def touch(self, study: str) -> None:
        """Mark ``study`` as seen now (it keeps its series), and expire what is due."""
        self._touch(study)

    def end(self, study: str) -> None:
        """The study ended: its series go ``ended_ttl_seconds`` from now (at once when that is 0)."""
        entry = self._studies.get(study)
        if entry is None:
            return
        if self._ended_ttl <= 0:
            self.forget(study)
            return
        entry.ended, entry.seen = True, self._clock()
        self._studies.move_to_end(study)
        self._cap(keep=study)

    def forget(self, study: str, only: Collection[MetricWrapperBase] | None = None) -> None:
        """Remove the series of ``study`` (of the metrics in ``only``, when given)."""
        entry = self._studies.get(study)
        if entry is None:
            return
        for metric in list(entry.labels):
            if only is not None and metric not in only:
                continue
            for values in entry.labels.pop(metric):
                metric.remove(*values)
        if only is None:
            del self._studies[study]

    def studies(self) -> list[str]:
        """The studies whose series are kept, least recently seen first."""
        self.expire()
        return list(self._studies)

    def expire(self) -> None:
        """Forget studies idle too long, ended long enough ago, or beyond ``max_studies``."""
        now = self._clock()
        for study, entry in list(self._studies.items()):
            limit = self._ended_ttl if entry.ended else self._idle_seconds
            if now - entry.seen >= limit:
                self.forget(study)
        self._cap()

    def _cap(self, keep: str | None = None) -> None:
        while True:
            counted = [s for s, e in self._studies.items() if self._evict_running or e.ended]
            if len(counted) <= self._max_studies:
                return
            candidates = [s for s in counted if s != keep]
            victim = next((s for s in candidates if self._studies[s].ended), candidates[0] if candidates else None)
            if victim is None:
                return
            self.forget(victim)

    def _touch(self, study: str) -> _Study:
        self.expire()
        entry = self._studies.get(study)
        if entry is None:
            entry = self._studies[study] = _Study(seen=self._clock())
        elif not entry.ended:
            entry.seen = self._clock()
        self._studies.move_to_end(study)
        self._cap(keep=study)
        return entry
