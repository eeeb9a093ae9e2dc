"""``ping_when_idle`` on the real Postgres server: a connection in use moments ago is not pinged, an idle one is,
and an idle one the server dropped is replaced before the caller's first statement sees it."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

import pytest
import sqlalchemy as sa

from services.runtime.db.engine import create_engine_for
from services.runtime.db.liveness import ping_when_idle
from tests.support.databases import scratch_database

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres_database(postgres_admin_engine: sa.Engine) -> Iterator[str]:
    with scratch_database(postgres_admin_engine, "hpo_liveness") as url:
        yield url


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select pg_backend_pid()")).scalar_one())


def test_a_busy_connection_is_not_pinged_and_an_idle_one_is(postgres_database: str) -> None:
    engine = ping_when_idle(sa.create_engine(postgres_database), idle_seconds=3600)
    try:
        _backend_pid(engine)  # the first checkout: a new connection, never pinged
        with patch.object(engine.dialect, "do_ping", wraps=engine.dialect.do_ping) as ping:
            for _ in range(5):
                _backend_pid(engine)
            assert ping.call_count == 0
    finally:
        engine.dispose()
    idle = ping_when_idle(sa.create_engine(postgres_database), idle_seconds=0)
    try:
        _backend_pid(idle)
        with patch.object(idle.dialect, "do_ping", wraps=idle.dialect.do_ping) as ping:
            _backend_pid(idle)
            _backend_pid(idle)
            assert ping.call_count == 2
    finally:
        idle.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    postgres_database: str, postgres_admin_engine: sa.Engine
) -> None:
    engine = ping_when_idle(sa.create_engine(postgres_database), idle_seconds=0)
    try:
        dropped = _backend_pid(engine)
        with postgres_admin_engine.connect() as admin:
            assert admin.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": dropped}).scalar_one()
        assert _backend_pid(engine) != dropped  # no error: the ping found it dead, the pool reconnected
    finally:
        engine.dispose()


def test_without_the_idle_check_the_dropped_connection_fails_the_first_statement(
    postgres_database: str, postgres_admin_engine: sa.Engine
) -> None:
    """The control for the test above: what the check saves a caller from."""
    engine = sa.create_engine(postgres_database)
    try:
        dropped = _backend_pid(engine)
        with postgres_admin_engine.connect() as admin:
            admin.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": dropped})
        with pytest.raises(sa.exc.OperationalError):
            _backend_pid(engine)
    finally:
        engine.dispose()


def test_the_read_model_engine_checks_idle_connections(
    postgres_database: str, postgres_admin_engine: sa.Engine
) -> None:
    engine = create_engine_for(postgres_database)
    try:
        dropped = _backend_pid(engine)
        with postgres_admin_engine.connect() as admin:
            admin.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": dropped})
        with patch("services.runtime.db.liveness.time.monotonic", return_value=float("inf")):
            assert _backend_pid(engine) != dropped
    finally:
        engine.dispose()
