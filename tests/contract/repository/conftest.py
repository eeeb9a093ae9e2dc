"""The ``repository`` fixture: one ``ReadModelRepository`` per backend, freshly migrated.

``sqlite`` always runs. ``postgres`` creates its own database on the local server
(``HPO_TEST_POSTGRES_ADMIN_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
and drops it afterwards. Without a reachable server it skips, unless ``HPO_REQUIRE_SERVICES=1``
(as in CI), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository

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
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    name = f"hpo_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def repository(database_url: str) -> Iterator[ReadModelRepository]:
    """A repository over a migrated, empty read-model database."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        yield ReadModelRepository(engine)
    finally:
        engine.dispose()
