"""Postgres for tests: the local server's admin engine (skips or fails as ``services.require_service``
says when it is missing) and throwaway databases created and dropped through it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tests.support.services import require_service

POSTGRES_ADMIN_URL = os.environ.get(
    "HPO_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_admin(url: str = POSTGRES_ADMIN_URL) -> sa.Engine:
    """An AUTOCOMMIT engine on a reachable Postgres server (the caller disposes of it)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_service("Postgres", "psycopg is not installed (pip install 'hpo[postgres]')")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        require_service("Postgres", f"unreachable at {url}: {exc}")
    return engine


@contextmanager
def scratch_database(admin: sa.Engine, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database named ``<prefix>_<random>``; dropped (forcibly) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
