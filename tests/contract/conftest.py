"""The ``database_url`` fixture: an empty database per backend, for the repository and Optuna-record suites.

``sqlite`` always runs. ``postgres`` creates its own database on the local server
(``HPO_TEST_POSTGRES_ADMIN_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
and drops it afterwards. Without a reachable server it skips, unless ``HPO_REQUIRE_SERVICES=1``
(as in CI), where a missing server is a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.runtime.db.engine import sqlite_url
from tests.support.databases import postgres_admin, scratch_database


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[sa.Engine]:
    engine = postgres_admin()
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL per backend, for an empty database that only this test uses."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "read_models.db")
        return
    with scratch_database(request.getfixturevalue("postgres_admin_engine"), "hpo_test") as url:
        yield url
