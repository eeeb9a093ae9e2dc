"""One live API for every panel test in this folder (real services, real Keras on digits), a finished
tiny study on it, and AppTest runs of the panel's pages against it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from services.ui.settings import UiSettings
from tests.support.live_api import LiveApi
from tests.support.waiting import eventually

APP = Path(__file__).resolve().parents[3] / "services" / "ui" / "app.py"
PAGE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Panel:
    live: LiveApi
    done_job: str
    """A finished study (2 trials x 2 epochs) whose results ZIP is ready."""

    def page(self, path: str | None = None, *, job: str | None = None, url: str | None = None) -> AppTest:
        """The app on ``path`` (a page script, e.g. ``pages/live.py``), run once, pointed at the live API."""
        at = AppTest.from_file(str(APP), default_timeout=PAGE_TIMEOUT)
        at.session_state["_ui_settings"] = UiSettings(
            api_url=url or self.live.url, api_token=SecretStr(self.live.token)
        )
        if job is not None:
            at.query_params["job"] = job
        if path is not None:
            at.switch_page(path)
        return at.run()


@pytest.fixture(scope="session")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Panel]:
    live = LiveApi(tmp_path_factory.mktemp("panel"))
    try:
        job = live.start_study()
        ready = eventually(lambda: live.results_ready(job), "the tiny study's results", timeout=120, interval=0.2)
        asyncio.run(ready)
        yield Panel(live, job)
    finally:
        live.close()
