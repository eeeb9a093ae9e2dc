"""Pieces of the remote CLI that need no server: the SSE parser, safe unpacking, interactive prompts."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from services.cli.remote.client import RemoteApi, parse_sse
from services.cli.remote.interactive import ask_options
from services.cli.remote.session import unpack
from services.runtime.errors import UserInputError


def test_sse_lines_become_events_and_keepalives_are_skipped() -> None:
    lines = [
        ": keepalive",
        "",
        "event: snapshot",
        'data: {"a": 1}',
        "",
        "id: 7",
        "event: trial.started",
        "data: x",
        "data: y",
        "",
    ]
    events = list(parse_sse(iter(lines)))
    assert [(e.name, e.data) for e in events] == [("snapshot", '{"a": 1}'), ("trial.started", "x\ny")]
    assert events[0].json() == {"a": 1}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_results_zip_unpacks_without_its_top_folder(tmp_path: Path) -> None:
    bundle = _zip(tmp_path / "s.zip", {"s/report.md": b"# r", "s/health/trial_0000.json": b"{}"})
    unpack(bundle, tmp_path / "out" / "s")
    assert (tmp_path / "out/s/report.md").read_bytes() == b"# r"
    assert (tmp_path / "out/s/health/trial_0000.json").is_file()


@pytest.mark.parametrize("evil", ["../escape.txt", "/etc/passwd-copy", "a/../../escape.txt"])
def test_a_zip_entry_outside_the_target_is_refused(tmp_path: Path, evil: str) -> None:
    bundle = _zip(tmp_path / "evil.zip", {"report.md": b"ok", evil: b"pwned"})
    with pytest.raises(UserInputError, match="unsafe path"):
        unpack(bundle, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_an_oversized_or_broken_zip_is_refused(tmp_path: Path) -> None:
    bundle = _zip(tmp_path / "big.zip", {"a.bin": b"\0" * 4096})
    with pytest.raises(UserInputError, match="more than 1000 bytes"):
        unpack(bundle, tmp_path / "out", max_bytes=1000)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(UserInputError, match="not a readable ZIP"):
        unpack(broken, tmp_path / "out")


def test_interactive_options_reask_until_valid_and_keep_defaults_on_enter() -> None:
    answers = iter(["mnist", "sometimes", "simple", "", "0", "4"] + [""] * 30)
    said: list[str] = []
    assignments = ask_options(lambda prompt: next(answers), said.append)
    assert assignments == ["dataset=mnist", "mode=simple", "trials=4"]
    assert any("mode=sometimes" in line and "'simple', 'health' or 'pareto'" in line for line in said)
    assert any("trials=0" in line and "greater than or equal to 1" in line for line in said)


def test_interactive_options_that_only_fail_together_are_reported() -> None:
    answers = iter(["image_folder"] + [""] * 30)  # image_folder needs data_dir, left at its default
    with pytest.raises(UserInputError, match="data_dir"):
        ask_options(lambda prompt: next(answers), lambda line: None)


def test_an_address_without_scheme_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match="with its scheme"):
        RemoteApi("hpo.example:8000", None)


def test_an_unreachable_api_is_a_clear_error() -> None:
    with RemoteApi("http://127.0.0.1:9", None) as api, pytest.raises(UserInputError, match="cannot reach"):
        api.jobs()
