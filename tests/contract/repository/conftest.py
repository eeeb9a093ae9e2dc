"""The ``repository`` fixture: one ``ReadModelRepository`` per backend (``database_url``), freshly migrated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.runtime.db.engine import create_engine_for
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import ReadModelRepository


@pytest.fixture
def repository(database_url: str) -> Iterator[ReadModelRepository]:
    """A repository over a migrated, empty read-model database."""
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        yield ReadModelRepository(engine)
    finally:
        engine.dispose()
