"""Real S3 server fixtures: a pytest plugin loaded by ``tests/conftest.py`` (``pytest_plugins``), used by
the ArtifactStore contract suite and the integration tests.

``s3_server`` is a real S3 HTTP endpoint for the whole session: the server at ``HPO_TEST_S3_URL``
(``http[s]://ACCESS:SECRET@HOST:PORT``, e.g. a MinIO in CI) when that is set, otherwise a moto S3
server started as a subprocess on a free port of 127.0.0.1 (a separate process, so the server's
memory never counts in the client's streaming measurements). Without minio or moto, or without a
server that answers, it skips, unless ``HPO_REQUIRE_SERVICES=1`` (as in CI), where that is a failure
(``tests.support.services.require_service``).

``s3_bucket`` is a fresh, unique bucket name per test (the store creates the bucket); the bucket is
emptied and removed after the test, so tests never share state and the server is left as found.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pytest

from tests.support.ports import free_port
from tests.support.services import require_service

if TYPE_CHECKING:
    from minio import Minio

S3_URL = os.environ.get("HPO_TEST_S3_URL", "")
_START_TIMEOUT_S = 30.0
_MOTO_CREDENTIALS = ("testing", "testing")


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port, as minio wants it
    access_key: str
    secret_key: str
    secure: bool = False

    def client(self) -> Minio:
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=self.secure)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m moto.server`` on a free port; retry a taken port; raise when it never answers."""
    for _ in range(3):
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(f"http://127.0.0.1:{port}/"):
                return process, f"127.0.0.1:{port}"
            time.sleep(0.1)
        _stop(process)
        if time.monotonic() >= deadline:
            raise RuntimeError(f"moto did not answer on 127.0.0.1:{port} within {_START_TIMEOUT_S:.0f}s")
    raise RuntimeError(f"moto exited at start three times; its output:\n{_tail(log)}")


def _external_server(url: str) -> S3Server:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        require_service("S3", f"HPO_TEST_S3_URL={url!r} is not http[s]://ACCESS:SECRET@HOST:PORT")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    server = S3Server(
        endpoint=f"{parts.hostname}:{port}",
        access_key=unquote(parts.username or ""),
        secret_key=unquote(parts.password or ""),
        secure=parts.scheme == "https",
    )
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
        server.client().list_buckets()
    except Exception as exc:
        require_service("S3", f"unreachable at {parts.scheme}://{server.endpoint}: {type(exc).__name__}: {exc}")
    return server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A reachable S3 endpoint (skips or fails as the module docstring says)."""
    try:
        import minio  # noqa: F401
    except ImportError:
        require_service("S3", "minio is not installed: pip install 'hpo[s3]'")
    if S3_URL:
        yield _external_server(S3_URL)
        return
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        require_service("S3", f"moto's S3 server is not installed ({exc}): pip install 'moto[server]'")
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    try:
        process, endpoint = _start_moto(log)
    except Exception as exc:
        require_service("S3", f"could not start moto's S3 server: {exc}")
    try:
        yield S3Server(endpoint, *_MOTO_CREDENTIALS)
    finally:
        _stop(process)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A bucket name no other test uses; whatever the test left in it is removed afterwards."""
    from minio.deleteobjects import DeleteObject

    name = f"hpo-contract-{uuid.uuid4().hex}"
    yield name
    client = s3_server.client()
    if not client.bucket_exists(name):
        return
    doomed = (DeleteObject(o.object_name) for o in client.list_objects(name, recursive=True) if o.object_name)
    failures = list(client.remove_objects(name, doomed))
    assert not failures, f"could not empty bucket {name}: {failures}"
    client.remove_bucket(name)
