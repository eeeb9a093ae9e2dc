"""Lean reads for charts: only the columns a series plots, never the telemetry or health JSON.

``/jobs/{id}/trends`` reads these: a study of 10,000 trials and their epochs is a few columns of
numbers, read a page at a time, instead of every trial's full record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, func, select
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

    def trial_points(self, study_id: str) -> list[TrialPointRecord]:
        """Every trial of the study by number (then attempt), the plotted columns only."""
        query = (
            select(*_TRIAL_COLUMNS)
            .where(trials.c.study_id == study_id)
            .order_by(trials.c.number.asc().nulls_last(), trials.c.attempt, trials.c.trial_id)
        )
        return [TrialPointRecord(**row) for row in self._rows(query)]

    def epoch_points(self, study_id: str, *, offset: int = 0, limit: int = 5_000) -> list[EpochPointRecord]:
        """A page of the study's epochs, by trial number, attempt, then epoch."""
        query = (
            select(*_EPOCH_COLUMNS)
            .join(trials, trials.c.trial_id == epochs.c.trial_id)
            .where(epochs.c.study_id == study_id)
            .order_by(trials.c.number.asc().nulls_last(), trials.c.attempt, epochs.c.trial_id, epochs.c.epoch)
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
