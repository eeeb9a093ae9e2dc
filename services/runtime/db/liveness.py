"""Pooled connections are checked before use only when they sat idle: a restarted server does not fail the
first query after a quiet spell, and a busy service does not pay a round trip per transaction for it.

SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one ``SELECT 1`` round trip per transaction, some
10% of the reporter's and the scheduler's CPU under load. ``ping_when_idle`` pings a connection only when
it was checked in ``idle_seconds`` ago or more; one that fails the ping is replaced before the caller sees
it (the pool's documented ``DisconnectionError`` protocol). A server restarted while connections were busy
fails their next statement instead; SQLAlchemy then invalidates the whole pool, and the services retry the
event (``RepositoryError`` is retryable; the scheduler's storage errors are redelivered likewise).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_SECONDS = 5.0
_CHECKED_IN = "hpo_checked_in"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> Engine:
    """Install the idle check on ``engine``'s pool; returns the engine."""
    dialect = engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # a new connection, or one in use moments ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"an idle pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("an idle pooled connection failed its ping")

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)
    return engine
