"""The ``api`` fixture: the app over its real in-process ports, with its lifespan running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.api.support import Api, open_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app, and a client that sends the admin token with every request."""
    async for opened in open_api(tmp_path):
        yield opened


@pytest.fixture
async def anonymous(tmp_path: Path) -> AsyncIterator[Api]:
    """The app, and a client that sends no token unless a request names one."""
    async for opened in open_api(tmp_path, authorized=False):
        yield opened
