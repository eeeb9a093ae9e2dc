"""Engines for the read-model database: SQLite (embedded default) or Postgres via psycopg 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from services.runtime.db.liveness import ping_when_idle

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve().as_posix()}"


def create_engine_for(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url``.

    SQLite: the parent folder is created, connections may be shared across threads
    (``check_same_thread=False``; the repository runs in ``asyncio.to_thread``), and every
    connection turns on WAL journaling, foreign keys and a busy timeout. An in-memory database
    keeps one shared connection, so every thread sees the same data. Other backends ping a pooled
    connection that sat idle before using it (``liveness.ping_when_idle``), so a restarted server does
    not fail the first query.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return ping_when_idle(create_engine(parsed, echo=echo))
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
    engine = create_engine(
        parsed,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **extra,
    )
    event.listen(engine, "connect", _sqlite_pragmas(wal=not in_memory))
    return engine


def _sqlite_pragmas(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    return on_connect
