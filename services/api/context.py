"""What every route reads: the injected ports, the settings and the per-process state."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request

from contracts.enums import StudyState
from services.api.datasets import DatasetCatalog
from services.api.models import Job
from services.api.principal import Principal
from services.api.settings import ApiSettings
from services.api.stream import EventHub
from services.api.throttle import FailedAttempts
from services.runtime.artifacts.port import ArtifactStore
from services.runtime.bus.port import Bus
from services.runtime.db.records import StudyRecord
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.series import SeriesReader
from services.runtime.db.tokens import TokenRepository

R = TypeVar("R")

SUBMITTED_KEPT = 1_000
COUNTS_KEPT = 1_000
COUNTS_REUSED_FROM_TRIALS = 1_000
READS_KEPT = 64
TERMINAL_STUDY_STATES = frozenset(state.value for state in StudyState if state is not StudyState.RUNNING)


@dataclass
class ApiContext:
    bus: Bus
    repository: ReadModelRepository
    artifacts: ArtifactStore
    settings: ApiSettings
    datasets: DatasetCatalog
    hub: EventHub
    tokens: TokenRepository | None = None
    """Named API tokens (None: only the admin token in the settings)."""
    failed_attempts: FailedAttempts = field(default_factory=lambda: FailedAttempts(10))
    submitted: OrderedDict[str, Job] = field(default_factory=OrderedDict)
    """Jobs this process accepted that the reporter may not have recorded yet."""
    series: SeriesReader = field(init=False)
    """Lean reads for charts, on the repository's database."""
    _counts: OrderedDict[str, tuple[float, dict[str, int]]] = field(default_factory=OrderedDict)
    _reads: OrderedDict[tuple[Any, ...], tuple[float, bytes]] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.series = SeriesReader(self.repository.engine)

    async def db(self, call: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run a repository call off the event loop."""
        return await asyncio.to_thread(call, *args, **kwargs)

    async def trial_counts(self, study_id: str) -> dict[str, int]:
        """Trials per state. A study of ``COUNTS_REUSED_FROM_TRIALS`` trials or more has its counts reused
        for ``settings.counts_cache_seconds`` (every page of a study reads them: counting 100,000 trials
        each time was most of each request); a smaller study's are always counted afresh."""
        cached = self._counts.get(study_id)
        if cached is not None and time.monotonic() - cached[0] < self.settings.counts_cache_seconds:
            return cached[1]
        counts = await self.db(self.repository.trial_counts, study_id)
        if sum(counts.values()) >= COUNTS_REUSED_FROM_TRIALS:
            self._counts[study_id] = (time.monotonic(), counts)
            self._counts.move_to_end(study_id)
            while len(self._counts) > COUNTS_KEPT:
                self._counts.popitem(last=False)
        return counts

    def reused_read(self, key: tuple[Any, ...]) -> bytes | None:
        """A large study's response body kept by ``keep_read`` less than ``counts_cache_seconds`` ago."""
        kept = self._reads.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.settings.counts_cache_seconds:
            return kept[1]
        return None

    def keep_read(self, key: tuple[Any, ...], body: bytes) -> None:
        """Keep a large study's response body (``/trends`` of 100,000 trials costs a second to build; twenty
        dashboards polling it then cost one build per ``counts_cache_seconds``, not twenty)."""
        self._reads[key] = (time.monotonic(), body)
        self._reads.move_to_end(key)
        while len(self._reads) > READS_KEPT:
            self._reads.popitem(last=False)

    def remember(self, job: Job) -> None:
        self.submitted[job.job_id] = job
        while len(self.submitted) > SUBMITTED_KEPT:
            self.submitted.popitem(last=False)

    async def job(self, job_id: str, viewer: Principal) -> tuple[Job, StudyRecord | None]:
        """The job, or a 404 naming the id (also for another owner's job); ``submitted`` jobs have no record yet."""
        record = await self.db(self.repository.get_study, job_id)
        if record is not None and viewer.may_see(record.owner):
            self.submitted.pop(job_id, None)
            counts = None
            if record.state not in TERMINAL_STUDY_STATES or not record.counts:
                counts = await self.trial_counts(job_id)
            return Job.of(record, counts), record
        pending = self.submitted.get(job_id)
        if record is None and pending is not None and viewer.may_see(pending.owner):
            return pending, None
        raise HTTPException(404, f"no job with id {job_id!r}; GET /jobs lists the known jobs")


def context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context."""
    ctx: ApiContext = request.app.state.hpo
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]
"""A route parameter typed ``ContextDep`` receives the app's context."""


def now() -> datetime:
    return datetime.now(UTC)
