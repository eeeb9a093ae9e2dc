"""A real browser for UI checks: Debian's chromium, driven by Playwright (its own browser download cannot
run here). The ``browser`` fixture skips on a laptop without chromium, and fails under
``HPO_REQUIRE_SERVICES=1`` (CI installs it: ``.ci/run``). It lives for one module: Playwright's sync API
holds an event loop in the main thread, which the asyncio tests of other modules need."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.services import require_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        require_service("chromium", "no chromium on PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("playwright", "the playwright package is not installed (pip install 'hpo[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
