"""The ``repository`` fixture: one ``ReadModelRepository`` per backend, freshly migrated.

``sqlite`` always runs. ``postgres`` runs when ``HPO_TEST_POSTGRES_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/hpo_test``); its tables are emptied before each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository
from services.runtime.db.schema import metadata

POSTGRES_URL_ENV = "HPO_TEST_POSTGRES_URL"


def _backends() -> list[object]:
    postgres = pytest.param(
        "postgres",
        marks=[
            pytest.mark.integration,
            pytest.mark.skipif(not os.environ.get(POSTGRES_URL_ENV), reason=f"{POSTGRES_URL_ENV} is not set"),
        ],
    )
    return ["sqlite", postgres]


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend; the SQLite file does not exist yet."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "read_models.db")
    pytest.importorskip("psycopg", reason="psycopg (3) is not installed")
    return os.environ[POSTGRES_URL_ENV]


@pytest.fixture
def repository(database_url: str) -> Iterator[ReadModelRepository]:
    """A repository over a migrated, empty read-model database."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    _empty(engine)
    try:
        yield ReadModelRepository(engine)
    finally:
        engine.dispose()
