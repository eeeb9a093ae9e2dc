"""The remote CLI against a server that lies: a study name that climbs out of the output folder, a ZIP
bomb, an endless download, a password in the URL. Files land only inside the output folder, nothing is
overwritten without --force, and every refusal is one line."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.cli.remote.client import RemoteApi
from services.cli.remote.session import fetch_results, unpack
from services.runtime.errors import UserInputError


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class LyingServer:
    """A real HTTP server on 127.0.0.1 whose job name and download are whatever the test says."""

    def __init__(self, name: str, body: bytes) -> None:
        lying = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/download"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/zip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    payload = json.dumps({"job_id": "job1", "name": lying.name, "state": "completed"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.name = name
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


Serve = Callable[[str, bytes], LyingServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[LyingServer] = []

    def start(name: str, body: bytes) -> LyingServer:
        servers.append(LyingServer(name, body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("name", ["../escaped_dir", "/tmp/absolute", "a/b", "..", "x\nname"])
def test_a_server_named_study_never_leaves_the_output_folder(tmp_path: Path, serve: Serve, name: str) -> None:
    server = serve(name, _zip({"report.md": b"# r"}))
    out = tmp_path / "out"
    with RemoteApi(server.url, "t" * 20) as api:
        study_dir, bundle = fetch_results(api, "job1", api.job("job1")["name"], out)
    assert (study_dir, bundle) == (out.resolve() / "job1", out.resolve() / "job1.zip"), "named by the job id"
    assert (study_dir / "report.md").read_bytes() == b"# r"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "nothing outside the output folder"


def test_existing_results_are_replaced_only_with_force(tmp_path: Path, serve: Serve) -> None:
    server = serve("study-a", _zip({"report.md": b"new"}))
    out = tmp_path / "out"
    (out / "study-a").mkdir(parents=True)
    (out / "study-a" / "report.md").write_bytes(b"mine")
    with RemoteApi(server.url, None) as api:
        with pytest.raises(UserInputError, match=r"exists already; pass --force"):
            fetch_results(api, "job1", "study-a", out)
        assert (out / "study-a" / "report.md").read_bytes() == b"mine"
        fetch_results(api, "job1", "study-a", out, force=True)
    assert (out / "study-a" / "report.md").read_bytes() == b"new"


def test_a_download_over_the_cap_is_refused_and_leaves_nothing(tmp_path: Path, serve: Serve) -> None:
    server = serve("big", b"\0" * 5000)
    with RemoteApi(server.url, None) as api, pytest.raises(UserInputError, match="bytes, over 1000"):
        api.download("job1", tmp_path / "big.zip", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"zeros.bin": b"\0" * (20 * 1024**2)}))
    with pytest.raises(UserInputError, match="compressed suspiciously well"):
        unpack(bomb, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    many = tmp_path / "many.zip"
    many.write_bytes(_zip({f"f{i}.txt": b"x" for i in range(30)}))
    with pytest.raises(UserInputError, match="30 files, more than 20"):
        unpack(many, tmp_path / "out", max_entries=20)


def test_a_truncated_zip_is_one_line_and_leaves_no_half_folder(tmp_path: Path) -> None:
    whole = _zip({"a.txt": b"a" * 10_000, "b.txt": b"b" * 10_000})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserInputError) as refused:
        unpack(cut, tmp_path / "out")
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_password_in_the_url_never_appears_in_an_error() -> None:
    with RemoteApi("http://user:PASSWORD123@127.0.0.1:9", None) as api, pytest.raises(UserInputError) as refused:
        api.jobs()
    assert "PASSWORD123" not in str(refused.value) and "user:***@127.0.0.1:9" in str(refused.value)
