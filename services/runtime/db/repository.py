"""The read-model repository: synchronous reads and idempotent writes over SQLAlchemy Core.

Callers on an event loop wrap every call in ``asyncio.to_thread``. Every write is an upsert keyed
by ids, so redelivered events never create duplicate rows; ``run_once`` additionally records the
event id in the same transaction as the writes, so an event is applied exactly once per consumer.
Driver errors leave this module as ``RepositoryError`` (a ``RetryableError``: the bus redelivers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, Executable, Select, Table, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.runtime.db.records import (
    TRIAL_SORT_KEYS,
    AlertRecord,
    ArtifactRecord,
    EpochRecord,
    StudyRecord,
    TrialRecord,
)
from services.runtime.db.rows import (
    alert_record,
    artifact_record,
    epoch_record,
    study_record,
    trial_record,
    utc,
)
from services.runtime.db.schema import (
    artifacts,
    epochs,
    health_alerts,
    processed_events,
    studies,
    trial_layers,
    trials,
)
from services.runtime.db.upsert import NATIVE_UPSERT_DIALECTS, on_conflict
from services.runtime.errors import RetryableError

MAX_PAGE_SIZE = 10_000

_TRIAL_FIELDS = frozenset(trials.c.keys()) - {"trial_id", "study_id"}
_DATETIME_FIELDS = frozenset({"started_at", "finished_at", "created_at", "completed_at"})
_SORT_COLUMNS = {
    "number": trials.c.number,
    "score": trials.c.score,
    "val_accuracy": trials.c.val_accuracy,
    "overall_health": trials.c.overall_health,
    "duration": trials.c.duration_seconds,
}


class RepositoryError(RetryableError):
    """The database refused or failed a read-model operation."""


class ReadModelRepository:
    """Studies, trials, epochs, alerts and artifacts as the API, UI and reports read them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @property
    def engine(self) -> Engine:
        return self._engine

    # ---- transactions ------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise RepositoryError(f"read-model write failed: {_short(exc)}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
            return
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise RepositoryError(f"read-model read failed: {_short(exc)}") from exc

    def _bound(self, conn: Connection) -> ReadModelRepository:
        bound = ReadModelRepository(self._engine)
        bound._conn = conn
        return bound

    def run_once(self, consumer: str, event_id: str, apply: Callable[[ReadModelRepository], None]) -> bool:
        """Apply ``apply`` and record ``event_id`` as processed by ``consumer``, atomically.

        ``apply`` receives a repository bound to the transaction. Returns False, applying nothing,
        when the event was already processed; an exception in ``apply`` records nothing.
        """
        return bool(self.run_batch(consumer, [(event_id, apply)])[0])

    def run_batch(
        self, consumer: str, work: Sequence[tuple[str | None, Callable[[ReadModelRepository], Any]]]
    ) -> list[Any]:
        """``run_once`` for several events in one transaction, in order: each item's writes apply only when its
        event id (None: none to record) was not processed yet. Returns, per item, whether it applied (for an
        event id) or what its writes returned (for None). Any exception rolls back the whole batch."""
        if self._conn is not None:
            raise RuntimeError("run_once / run_batch cannot be nested")
        with self._write() as conn:
            fresh = _insert_processed_many(conn, consumer, [event_id for event_id, _ in work if event_id is not None])
            bound = self._bound(conn)
            results: list[Any] = []
            for event_id, apply in work:
                if event_id is None:
                    results.append(apply(bound))
                elif event_id in fresh:
                    fresh.discard(event_id)  # the same event twice in one batch applies once
                    apply(bound)
                    results.append(True)
                else:
                    results.append(False)
            return results

    def mark_processed(self, consumer: str, event_id: str) -> bool:
        """Record that ``consumer`` handled ``event_id``; False when it already had."""
        with self._write() as conn:
            return _insert_processed(conn, consumer, event_id)

    def is_processed(self, consumer: str, event_id: str) -> bool:
        query = select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer, processed_events.c.event_id == event_id
        )
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def forget_processed(self, older_than: datetime) -> int:
        """Delete de-duplication records older than ``older_than``; returns how many went."""
        stmt = processed_events.delete().where(processed_events.c.processed_at < utc(older_than))
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    # ---- studies -----------------------------------------------------------------------------

    def upsert_study(
        self,
        study_id: str,
        *,
        name: str,
        state: str = "running",
        dataset: str | None = None,
        mode: str | None = None,
        objective: str | None = None,
        config: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
        owner: str | None = None,
    ) -> None:
        """Create the study, or refresh its description (never its state nor its owner) when it exists."""
        values = {
            "study_id": study_id,
            "name": name,
            "state": state,
            "dataset": dataset,
            "mode": mode,
            "objective": objective,
            "config": dict(config) if config is not None else None,
            "created_at": utc(created_at) or datetime.now(UTC),
            "counts": {},
            "owner": owner,
        }
        with self._write() as conn:
            _upsert(conn, studies, values, ("study_id",), ("name", "dataset", "mode", "objective", "config"))

    def set_study_state(
        self,
        study_id: str,
        state: str,
        *,
        reason: str | None = None,
        completed_at: datetime | None = None,
        best_trial_id: str | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> bool:
        """Set the state and whichever of the other fields are given; False if no such study."""
        values: dict[str, Any] = {"state": state}
        if reason is not None:
            values["reason"] = reason
        if completed_at is not None:
            values["completed_at"] = utc(completed_at)
        if best_trial_id is not None:
            values["best_trial_id"] = best_trial_id
        if counts is not None:
            values["counts"] = dict(counts)
        with self._write() as conn:
            return conn.execute(update(studies).where(studies.c.study_id == study_id).values(values)).rowcount > 0

    def set_study_data_notes(self, study_id: str, notes: Sequence[str]) -> bool:
        """Replace what is known about the study's data (one line per entry); False if no such study."""
        values = {"data_notes": list(notes)}
        with self._write() as conn:
            return conn.execute(update(studies).where(studies.c.study_id == study_id).values(values)).rowcount > 0

    def reopen_study(self, study_id: str) -> bool:
        """A resumed study runs again: state ``running``, no end time or reason; False if no such study."""
        values = {"state": "running", "completed_at": None, "reason": None}
        with self._write() as conn:
            return conn.execute(update(studies).where(studies.c.study_id == study_id).values(values)).rowcount > 0

    def get_study(self, study_id: str) -> StudyRecord | None:
        with self._read() as conn:
            row = conn.execute(select(studies).where(studies.c.study_id == study_id)).mappings().first()
        return study_record(row) if row is not None else None

    def list_studies(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        state: str | None = None,
        owner: str | None = None,
    ) -> list[StudyRecord]:
        """Newest first; ``state`` and ``owner`` filter when given."""
        _check_page(offset, limit)
        query = _studies_where(select(studies), state, owner)
        query = query.order_by(studies.c.created_at.desc().nulls_last(), studies.c.study_id)
        with self._read() as conn:
            rows = conn.execute(query.offset(offset).limit(limit)).mappings().all()
        return [study_record(r) for r in rows]

    def count_studies(self, *, state: str | None = None, owner: str | None = None) -> int:
        query = _studies_where(select(func.count()).select_from(studies), state, owner)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    # ---- trials ------------------------------------------------------------------------------

    def upsert_trial(self, trial_id: str, study_id: str, **fields: Any) -> None:
        """Create the trial or update exactly the given columns (partial update, keyed by id).

        ``duration_seconds`` follows ``started_at`` / ``finished_at`` unless given explicitly.
        """
        unknown = set(fields) - _TRIAL_FIELDS
        if unknown:
            raise ValueError(f"unknown trial fields: {', '.join(sorted(unknown))}")
        values = {k: utc(v) if k in _DATETIME_FIELDS else v for k, v in fields.items()}
        with self._write() as conn:
            _upsert(conn, trials, {"trial_id": trial_id, "study_id": study_id, **values}, ("trial_id",), tuple(values))
            if ("started_at" in values or "finished_at" in values) and "duration_seconds" not in values:
                _refresh_duration(conn, trial_id)

    def get_trial(self, trial_id: str) -> TrialRecord | None:
        with self._read() as conn:
            row = conn.execute(select(trials).where(trials.c.trial_id == trial_id)).mappings().first()
        return trial_record(row) if row is not None else None

    def best_scores(self, study_ids: Sequence[str]) -> dict[str, float]:
        """The highest score of a completed trial per study, for the given studies (one query)."""
        if not study_ids:
            return {}
        query = (
            select(trials.c.study_id, func.max(trials.c.score))
            .where(trials.c.study_id.in_(list(study_ids)), trials.c.state == "completed")
            .group_by(trials.c.study_id)
        )
        with self._read() as conn:
            return {str(study): float(best) for study, best in conn.execute(query).all() if best is not None}

    def trial_by_number(self, study_id: str, number: int) -> TrialRecord | None:
        """The latest attempt of the study's trial ``number``."""
        query = (
            _trials_of(study_id, None)
            .where(trials.c.number == number)
            .order_by(trials.c.attempt.desc(), trials.c.trial_id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return trial_record(row) if row is not None else None

    def list_trials(
        self,
        study_id: str,
        *,
        offset: int = 0,
        limit: int = 100,
        sort_by: str = "number",
        descending: bool = False,
        state: str | None = None,
    ) -> list[TrialRecord]:
        """One page of a study's trials. Trials without a value for ``sort_by`` come last."""
        _check_page(offset, limit)
        if sort_by not in TRIAL_SORT_KEYS:
            raise ValueError(f"sort_by must be one of {', '.join(sorted(TRIAL_SORT_KEYS))}, not {sort_by!r}")
        column = _SORT_COLUMNS[sort_by]
        order = [(column.desc() if descending else column.asc()).nulls_last()]
        if sort_by != "number":
            order.append(trials.c.number.asc().nulls_last())
        order += [trials.c.attempt.asc(), trials.c.trial_id.asc()]
        # The page's ids first, from an index that holds the sort keys (``schema``), then only its rows:
        # a page deep into 100,000 trials skips index entries, not whole rows with their JSON.
        page = _trials_of(study_id, state, trials.c.trial_id).order_by(*order).offset(offset).limit(limit).subquery()
        query = select(trials).join(page, page.c.trial_id == trials.c.trial_id).order_by(*order)
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [trial_record(r) for r in rows]

    def count_trials(self, study_id: str, *, state: str | None = None) -> int:
        query = select(func.count()).select_from(trials).where(trials.c.study_id == study_id)
        if state is not None:
            query = query.where(trials.c.state == state)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def trial_counts(self, study_id: str) -> dict[str, int]:
        """Number of trials per state."""
        query = select(trials.c.state, func.count()).where(trials.c.study_id == study_id).group_by(trials.c.state)
        with self._read() as conn:
            return {str(state): int(n) for state, n in conn.execute(query).all()}

    def best_trial(self, study_id: str) -> TrialRecord | None:
        """The study's recorded best trial, else its completed trial with the highest score."""
        with self._read() as conn:
            recorded = (
                conn.execute(
                    select(trials)
                    .join(studies, studies.c.best_trial_id == trials.c.trial_id)
                    .where(studies.c.study_id == study_id, trials.c.study_id == study_id)
                )
                .mappings()
                .first()
            )
            if recorded is not None:
                return trial_record(recorded)
            query = (
                _trials_of(study_id, "completed")
                .where(trials.c.score.is_not(None))
                .order_by(trials.c.score.desc().nulls_last(), trials.c.number.asc().nulls_last(), trials.c.trial_id)
                .limit(1)
            )
            row = conn.execute(query).mappings().first()
        return trial_record(row) if row is not None else None

    # ---- epochs, alerts, artifacts -----------------------------------------------------------

    def record_epoch(
        self,
        trial_id: str,
        study_id: str,
        epoch: int,
        *,
        loss: float | None = None,
        accuracy: float | None = None,
        val_loss: float | None = None,
        val_accuracy: float | None = None,
        epoch_seconds: float | None = None,
        telemetry: Mapping[str, Any] | None = None,
    ) -> None:
        """Store one epoch; recording the same (trial, epoch) again replaces it (one row)."""
        values = {
            "trial_id": trial_id,
            "study_id": study_id,
            "epoch": epoch,
            "loss": loss,
            "accuracy": accuracy,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "epoch_seconds": epoch_seconds,
            "telemetry": dict(telemetry) if telemetry is not None else None,
        }
        with self._write() as conn:
            _upsert(conn, epochs, values, ("trial_id", "epoch"), None)

    def epochs_for_trial(self, trial_id: str) -> list[EpochRecord]:
        query = select(epochs).where(epochs.c.trial_id == trial_id).order_by(epochs.c.epoch)
        with self._read() as conn:
            return [epoch_record(r) for r in conn.execute(query).mappings().all()]

    def epochs_for_study(self, study_id: str) -> list[EpochRecord]:
        """Every epoch of every trial, by trial number, attempt, then epoch."""
        query = (
            select(epochs)
            .join(trials, trials.c.trial_id == epochs.c.trial_id)
            .where(epochs.c.study_id == study_id)
            .order_by(trials.c.number.asc().nulls_last(), trials.c.attempt, epochs.c.trial_id, epochs.c.epoch)
        )
        with self._read() as conn:
            return [epoch_record(r) for r in conn.execute(query).mappings().all()]

    def record_layers(self, trial_id: str, study_id: str, layers: Sequence[Mapping[str, Any]]) -> None:
        """Store the trial's architecture (``LayerSpec`` JSON, in order); recording it again replaces it."""
        values = {"trial_id": trial_id, "study_id": study_id, "layers": [dict(layer) for layer in layers]}
        with self._write() as conn:
            _upsert(conn, trial_layers, values, ("trial_id",), None)

    def layers_for_trial(self, trial_id: str) -> list[dict[str, Any]]:
        """The trial's layers as recorded (empty when its trainer sent none)."""
        with self._read() as conn:
            found = conn.execute(select(trial_layers.c.layers).where(trial_layers.c.trial_id == trial_id)).scalar()
        return list(found or [])

    def record_alert(
        self,
        study_id: str,
        trial_id: str,
        *,
        kind: str,
        severity: str,
        message: str,
        epoch: int | None = None,
        layer: str | None = None,
    ) -> bool:
        """Store an alert, at most one per (trial, kind, layer): True when it is new. A repeat
        keeps the first epoch and takes the latest severity and message."""
        values = {
            "study_id": study_id,
            "trial_id": trial_id,
            "kind": kind,
            "severity": severity,
            "message": message,
            "epoch": epoch,
            "layer": layer or "",
        }
        with self._write() as conn:
            if _upsert(conn, health_alerts, values, ("trial_id", "kind", "layer"), ()):
                return True
            conn.execute(
                update(health_alerts)
                .where(
                    health_alerts.c.trial_id == trial_id,
                    health_alerts.c.kind == kind,
                    health_alerts.c.layer == (layer or ""),
                )
                .values(severity=severity, message=message)
            )
            return False

    def alerts_for_study(self, study_id: str, *, latest: int | None = None) -> list[AlertRecord]:
        """The study's alerts in the order they were raised; only the ``latest`` ones when given."""
        query = select(health_alerts).where(health_alerts.c.study_id == study_id)
        if latest is not None:
            newest = query.order_by(health_alerts.c.id.desc()).limit(latest).subquery()
            query = select(newest)
        with self._read() as conn:
            rows = conn.execute(query.order_by("id")).mappings().all()
        return [alert_record(r) for r in rows]

    def count_alerts(self, study_id: str) -> int:
        query = select(func.count()).select_from(health_alerts).where(health_alerts.c.study_id == study_id)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def alerts_for_trial(self, trial_id: str) -> list[AlertRecord]:
        query = select(health_alerts).where(health_alerts.c.trial_id == trial_id).order_by(health_alerts.c.id)
        with self._read() as conn:
            return [alert_record(r) for r in conn.execute(query).mappings().all()]

    def record_artifact(self, key: str, *, kind: str, size_bytes: int, study_id: str | None = None) -> None:
        """Store (or refresh) one artifact's description."""
        values = {"key": key, "study_id": study_id, "kind": kind, "size_bytes": size_bytes}
        with self._write() as conn:
            _upsert(conn, artifacts, values, ("key",), None)

    def get_artifact(self, key: str) -> ArtifactRecord | None:
        with self._read() as conn:
            row = conn.execute(select(artifacts).where(artifacts.c.key == key)).mappings().first()
        return artifact_record(row) if row is not None else None

    def artifacts_for_study(self, study_id: str) -> list[ArtifactRecord]:
        query = select(artifacts).where(artifacts.c.study_id == study_id).order_by(artifacts.c.key)
        with self._read() as conn:
            return [artifact_record(r) for r in conn.execute(query).mappings().all()]


# ---- helpers ---------------------------------------------------------------------------------


def _short(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def _check_page(offset: int, limit: int) -> None:
    if offset < 0 or not 0 < limit <= MAX_PAGE_SIZE:
        raise ValueError(f"need offset >= 0 and 0 < limit <= {MAX_PAGE_SIZE} (got offset={offset}, limit={limit})")


def _studies_where(query: Select[Any], state: str | None, owner: str | None) -> Select[Any]:
    if state is not None:
        query = query.where(studies.c.state == state)
    if owner is not None:
        query = query.where(studies.c.owner == owner)
    return query


def _trials_of(study_id: str, state: str | None, *columns: Any) -> Select[Any]:
    query = select(*(columns or (trials,))).where(trials.c.study_id == study_id)
    return query.where(trials.c.state == state) if state is not None else query


def _insert_processed(conn: Connection, consumer: str, event_id: str) -> bool:
    values = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    return _upsert(conn, processed_events, values, ("consumer", "event_id"), ()) > 0


def _insert_processed_many(conn: Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record ``event_ids`` as processed by ``consumer``; the ones that were not recorded before."""
    if not event_ids:
        return set()
    dialect = conn.dialect.name
    if dialect not in NATIVE_UPSERT_DIALECTS:
        return {event_id for event_id in dict.fromkeys(event_ids) if _insert_processed(conn, consumer, event_id)}
    now = datetime.now(UTC)
    rows = [{"consumer": consumer, "event_id": event_id, "processed_at": now} for event_id in dict.fromkeys(event_ids)]
    return {str(event_id) for event_id in conn.execute(_processed_insert(dialect), rows).scalars()}


@lru_cache(maxsize=4)
def _processed_insert(dialect: str) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING event_id`` into ``processed_events``: many rows, one
    statement (SQLAlchemy sends them as one multi-row insert), answering which were new."""
    keys = ("consumer", "event_id")
    return cast(Executable, on_conflict(dialect, processed_events, keys, ()).returning(processed_events.c.event_id))


def _upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update_columns: Sequence[str] | None,
) -> int:
    """INSERT, or on a key conflict UPDATE ``update_columns`` (all non-key columns when None, none
    when empty). Returns the number of rows inserted or updated (0: existed and left alone)."""
    columns = tuple(c for c in (values if update_columns is None else update_columns) if c not in keys)
    dialect = conn.dialect.name
    if dialect in NATIVE_UPSERT_DIALECTS:
        # rowcount is unreliable for ON CONFLICT across drivers (psycopg reports -1); RETURNING is not.
        statement = _native_upsert(dialect, table, tuple(keys), columns)
        return len(conn.execute(statement, dict(values)).all())
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(dict(values)))
        return 1
    except IntegrityError:
        if not columns:
            return 0
        where = and_(*(table.c[k] == values[k] for k in keys))
        return cast(int, conn.execute(update(table).where(where).values({c: values[c] for c in columns})).rowcount)


@lru_cache(maxsize=512)
def _native_upsert(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Executable:
    """``upsert.on_conflict`` answering with the first key of each row it inserted or updated."""
    return cast(Executable, on_conflict(dialect, table, keys, columns).returning(table.c[keys[0]]))


def _refresh_duration(conn: Connection, trial_id: str) -> None:
    row = conn.execute(select(trials.c.started_at, trials.c.finished_at).where(trials.c.trial_id == trial_id)).first()
    if row is None:
        return
    started, finished = utc(row.started_at), utc(row.finished_at)
    duration = (finished - started).total_seconds() if started and finished else None
    conn.execute(update(trials).where(trials.c.trial_id == trial_id).values(duration_seconds=duration))
