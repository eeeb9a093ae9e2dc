"""The ``database_url`` fixture: an empty database per backend, for the repository and Optuna-record suites.

``sqlite`` always runs. ``postgres`` creates its own database on the local server
(``HPO_TEST_POSTGRES_ADMIN_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
and drops it afterwards. Without a reachable server it skips, unless ``HPO_REQUIRE_SERVICES=1``
(as in CI), where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.runtime.db.engine import sqlite_url
from tests.databases import scratch_database

ADMIN_URL = os.environ.get("HPO_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _services_required() -> bool:
    return os.environ.get("HPO_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if _services_required():
            pytest.fail("psycopg is not installed: pip install 'hpo[postgres]'")
        pytest.skip("psycopg is not installed")
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        if _services_required():
            pytest.fail(f"Postgres is required (HPO_REQUIRE_SERVICES=1) but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"Postgres unreachable at {ADMIN_URL}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL per backend, for an empty database that only this test uses."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "read_models.db")
        return
    with scratch_database(request.getfixturevalue("postgres_admin"), "hpo_test") as url:
        yield url
