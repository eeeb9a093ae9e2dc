"""``/docs`` and ``/redoc`` render in a real browser with the network to the internet cut: every script
and style comes from the API itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from services.api import bootstrap
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from tests.support.read_models import sqlite_repository
from tests.unit.api.support import settings


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    """The API served by uvicorn on its own event loop in a thread (the browser test itself is sync)."""
    loop = asyncio.new_event_loop()
    urls: list[str] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        bus, repo = InMemoryBus(), sqlite_repository(tmp_path / "r.sqlite")
        running = await bootstrap.start(bus, repo, LocalArtifactStore(tmp_path / "a"), settings(port=0))
        urls.append(running.url)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await running.stop()
        repo.engine.dispose()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield urls[0]
    stop.set()
    thread.join(timeout=30)


def _offline(route: Route) -> None:
    """Anything but the API itself fails, as on a machine without internet access."""
    if route.request.url.startswith(("http://127.0.0.1", "http://localhost")):
        route.continue_()
    else:
        route.abort()


@pytest.mark.parametrize(("page", "rendered"), [("/docs", ".opblock-summary-path"), ("/redoc", ".api-content h1")])
def test_the_interactive_docs_render_offline(browser: Browser, api_url: str, page: str, rendered: str) -> None:
    context = browser.new_context()
    requested: list[str] = []
    context.route("**/*", _offline)
    tab = context.new_page()
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(api_url + page)
    tab.wait_for_selector(rendered, timeout=30_000)
    text = tab.inner_text("body")
    assert "/jobs/{job_id}/trials" in text or "jobs" in text.lower()
    assert all(url.startswith(api_url) for url in requested), [u for u in requested if not u.startswith(api_url)]
    context.close()
