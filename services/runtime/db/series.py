"""Lean reads for charts: only the columns a series plots, never the telemetry or health JSON.

``/jobs/{id}/trends`` reads these: a study of 100,000 trials and their epochs is a few columns of
numbers, thinned by the database or read a page at a time, instead of every trial's full record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, case, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import SQLAlchemyError

from services.runtime.db.repository import RepositoryError
from services.runtime.db.schema import epochs, trials


@dataclass(frozen=True, slots=True)
class TrialPointRecord:
    trial_id: str
    number: int | None
    state: str
    score: float | None
    val_accuracy: float | None
    overall_health: float | None
    duration_seconds: float | None
    best_score: float | None
    """The best completed score up to and including this trial."""


@dataclass(frozen=True, slots=True)
class TrialSeries:
    points: list[TrialPointRecord]
    """In trial order: the first and last trial, every trial that improved the best score, and evenly
    spaced others; all of them for a study of up to ``at_most`` trials."""
    total: int
    """Trials in the study."""


@dataclass(frozen=True, slots=True)
class EpochPointRecord:
    trial_id: str
    number: int | None
    epoch: int
    loss: float | None
    accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    epoch_seconds: float | None


_TRIAL_COLUMNS = (
    trials.c.trial_id,
    trials.c.number,
    trials.c.state,
    trials.c.score,
    trials.c.val_accuracy,
    trials.c.overall_health,
    trials.c.duration_seconds,
)
_EPOCH_COLUMNS = (
    epochs.c.trial_id,
    trials.c.number,
    epochs.c.epoch,
    epochs.c.loss,
    epochs.c.accuracy,
    epochs.c.val_loss,
    epochs.c.val_accuracy,
    epochs.c.epoch_seconds,
)


class SeriesReader:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def trial_series(self, study_id: str, at_most: int) -> TrialSeries:
        """The study's per-trial series, thinned by the database to about ``2 x at_most`` rows however
        long the study: the running best and the improvements are window functions over one scan of
        the study's trials, so 100,000 trials cost one query and a few thousand rows, not 100,000."""
        order = (trials.c.number.asc().nulls_last(), trials.c.attempt, trials.c.trial_id)
        completed_score = case((trials.c.state == "completed", trials.c.score))
        ordered = (
            select(
                *_TRIAL_COLUMNS,
                func.max(completed_score).over(order_by=order, rows=(None, 0)).label("best_score"),
                func.row_number().over(order_by=order).label("position"),
                func.count().over().label("total"),
            )
            .where(trials.c.study_id == study_id)
            .subquery("ordered")
        )
        previous_best = func.lag(ordered.c.best_score).over(order_by=ordered.c.position).label("previous_best")
        marked = select(ordered, previous_best).subquery("marked")
        step = (marked.c.total + at_most - 1) // at_most  # ceil(total / at_most), in integers
        query = (
            select(*(marked.c[c.name] for c in _TRIAL_COLUMNS), marked.c.best_score, marked.c.total)
            .where(
                or_(
                    marked.c.position == 1,
                    marked.c.position == marked.c.total,
                    marked.c.best_score.is_distinct_from(marked.c.previous_best),
                    (marked.c.position - 1) % step == 0,
                )
            )
            .order_by(marked.c.position)
        )
        rows = self._rows(query)
        total = int(rows[0]["total"]) if rows else 0
        return TrialSeries([TrialPointRecord(**{k: v for k, v in row.items() if k != "total"}) for row in rows], total)

    def epoch_points(self, study_id: str, *, offset: int = 0, limit: int = 5_000) -> list[EpochPointRecord]:
        """A page of the study's epochs, by trial number, attempt, then epoch."""
        query = (
            select(*_EPOCH_COLUMNS)
            .join(trials, trials.c.trial_id == epochs.c.trial_id)
            .where(trials.c.study_id == study_id)  # walks the trials' order index, then each trial's epochs
            .order_by(trials.c.number.asc().nulls_last(), trials.c.attempt, trials.c.trial_id, epochs.c.epoch)
            .offset(offset)
            .limit(limit)
        )
        return [EpochPointRecord(**row) for row in self._rows(query)]

    def count_epochs(self, study_id: str) -> int:
        query = select(func.count().label("epochs")).select_from(epochs).where(epochs.c.study_id == study_id)
        return int(self._rows(query)[0]["epochs"])

    def _rows(self, query: Select[Any]) -> Sequence[RowMapping]:
        try:
            with self._engine.connect() as conn:
                return conn.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise RepositoryError(f"read-model read failed: {type(exc).__name__}") from exc
