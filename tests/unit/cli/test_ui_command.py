"""``hpo ui``: bad input is one line and exit 2; the panel process starts on the API, answers, and stops."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.cli.embedded import _start_api
from services.cli.main import EXIT_USAGE, build_parser, main
from services.cli.ui import start_panel
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.bus.memory import InMemoryBus
from tests.support.read_models import sqlite_repository


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ui", "--url", "ftp://somewhere"], "--url must be the API's address, like http://host:8000"),
        (["ui", "--url", "localhost:8000"], "--url must be the API's address"),
        (["ui"], "hpo ui needs the API's address: --url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPO_API_URL", raising=False)
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_optimize_takes_ui_and_api_port() -> None:
    args = build_parser().parse_args(["optimize", "dataset=digits", "--ui", "--api-port", "0"])
    assert args.ui is True and args.api_port == 0


async def test_the_panel_starts_on_an_embedded_runs_api_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPO_API_TOKEN", raising=False)
    bus, repo = InMemoryBus(), sqlite_repository(tmp_path / "r.sqlite")
    api, made = await _start_api(bus, repo, LocalArtifactStore(tmp_path / "a"), 0, None)
    panel = None
    try:
        panel = start_panel(api.url, port=0, token=made)
        assert panel.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{panel.url}/_stcore/health", timeout=10).text == "ok"
        assert made is not None and made not in " ".join(panel.process.args)  # type: ignore[arg-type]
    finally:
        if panel is not None:
            panel.stop()
            assert panel.process.poll() is not None
        await api.stop()
        await bus.close()
        repo.engine.dispose()
