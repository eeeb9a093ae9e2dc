"""THE ArtifactStore contract: every implementation runs this one suite (DESIGN.md section 3).

To add an implementation, add an entry to ``ARTIFACT_STORES``: a factory taking the pytest request
and a private temporary folder and returning an empty store that only this test uses (an S3 store
would create a bucket, or a prefix, of its own and skip when the server is unreachable), plus the
marks its parameter carries (``pytest.mark.integration`` for a real server).
"""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.runtime.artifacts import ArtifactNotFound, ArtifactStore, LocalArtifactStore

StoreFactory = Callable[[pytest.FixtureRequest, Path], ArtifactStore]

MB = 1024 * 1024


def _local_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    return LocalArtifactStore(tmp_path / "store")


def _s3_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """A bucket of its own on a real S3 endpoint (moto's server by default; see conftest.py)."""
    server = request.getfixturevalue("s3_server")  # skips (or fails) first when there is no server
    from services.runtime.artifacts import S3ArtifactStore

    # S3's smallest part, so the 20 MiB streaming test below spans four parts (minio holds one at a time).
    return S3ArtifactStore(
        server.endpoint,
        server.access_key,
        server.secret_key,
        bucket=request.getfixturevalue("s3_bucket"),
        secure=server.secure,
        part_size=5 * MB,
    )


# name -> (factory, marks)
ARTIFACT_STORES: dict[str, tuple[StoreFactory, tuple[pytest.MarkDecorator, ...]]] = {
    "local": (_local_store, ()),
    "s3": (_s3_store, (pytest.mark.integration,)),
}


@pytest.fixture(params=[pytest.param(name, marks=marks) for name, (_, marks) in ARTIFACT_STORES.items()])
def artifact_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    factory, _ = ARTIFACT_STORES[request.param]
    return factory(request, tmp_path)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder outside the store for source and destination files."""
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _big_file(path: Path, size_mb: int = 20) -> Path:
    with path.open("wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(MB))
    return path


# ---- bytes and files ------------------------------------------------------------------------


def test_put_and_get_bytes(artifact_store: ArtifactStore) -> None:
    data = bytes(range(256)) * 10
    assert artifact_store.put_bytes("studies/s1/trials/0/model.keras", data) == len(data)
    assert artifact_store.get_bytes("studies/s1/trials/0/model.keras") == data


def test_empty_content_round_trips(artifact_store: ArtifactStore) -> None:
    assert artifact_store.put_bytes("empty.bin", b"") == 0
    assert artifact_store.get_bytes("empty.bin") == b""
    assert artifact_store.exists("empty.bin")


def test_put_file_and_get_file(artifact_store: ArtifactStore, scratch: Path) -> None:
    source = scratch / "report.md"
    source.write_bytes(b"# report\n\nbest trial: 3\n")

    assert artifact_store.put_file("studies/s1/report.md", source) == source.stat().st_size
    destination = artifact_store.get_file("studies/s1/report.md", scratch / "out" / "nested" / "report.md")

    assert destination == scratch / "out" / "nested" / "report.md"
    assert destination.read_bytes() == source.read_bytes()
    assert artifact_store.get_bytes("studies/s1/report.md") == source.read_bytes()


def test_bytes_put_can_be_read_as_a_file_and_back(artifact_store: ArtifactStore, scratch: Path) -> None:
    artifact_store.put_bytes("a/b.txt", b"hello")
    assert artifact_store.get_file("a/b.txt", scratch / "b.txt").read_bytes() == b"hello"
    artifact_store.put_file("a/c.txt", scratch / "b.txt")
    assert artifact_store.get_bytes("a/c.txt") == b"hello"


def test_put_overwrites(artifact_store: ArtifactStore, scratch: Path) -> None:
    artifact_store.put_bytes("k/model.bin", b"a much longer first version of the content")
    artifact_store.put_bytes("k/model.bin", b"short")
    assert artifact_store.get_bytes("k/model.bin") == b"short"

    source = scratch / "v3"
    source.write_bytes(b"third")
    artifact_store.put_file("k/model.bin", source)
    assert artifact_store.get_bytes("k/model.bin") == b"third"
    assert artifact_store.list_keys("k/") == ["k/model.bin"]


def test_get_file_replaces_an_existing_destination(artifact_store: ArtifactStore, scratch: Path) -> None:
    destination = scratch / "model.bin"
    destination.write_bytes(b"x" * 10_000)
    artifact_store.put_bytes("model.bin", b"new")

    artifact_store.get_file("model.bin", destination)

    assert destination.read_bytes() == b"new"


# ---- listing, existence, deletion -----------------------------------------------------------


def test_exists(artifact_store: ArtifactStore) -> None:
    assert not artifact_store.exists("a/b/c.txt")
    artifact_store.put_bytes("a/b/c.txt", b"1")
    assert artifact_store.exists("a/b/c.txt")
    assert not artifact_store.exists("a/b"), "a prefix of a key is not a key"
    assert not artifact_store.exists("a/b/c")


def test_list_keys_with_prefixes_sorted(artifact_store: ArtifactStore) -> None:
    keys = ["b/1", "a/2", "a/sub/3", "a2/x", "a/1", "c.txt"]
    for key in keys:
        artifact_store.put_bytes(key, key.encode())

    assert artifact_store.list_keys() == sorted(keys)
    assert artifact_store.list_keys("") == sorted(keys)
    assert artifact_store.list_keys("a/") == ["a/1", "a/2", "a/sub/3"]
    assert artifact_store.list_keys("a") == ["a/1", "a/2", "a/sub/3", "a2/x"]
    assert artifact_store.list_keys("a/sub/") == ["a/sub/3"]
    assert artifact_store.list_keys("c.txt") == ["c.txt"]
    assert artifact_store.list_keys("zzz") == []


def test_an_empty_store_lists_nothing(artifact_store: ArtifactStore) -> None:
    assert artifact_store.list_keys() == []


def test_delete_is_idempotent(artifact_store: ArtifactStore) -> None:
    artifact_store.put_bytes("d/x", b"1")
    artifact_store.put_bytes("d/y", b"2")

    artifact_store.delete("d/x")
    artifact_store.delete("d/x")
    artifact_store.delete("never/stored")

    assert not artifact_store.exists("d/x")
    assert artifact_store.list_keys("d/") == ["d/y"]
    with pytest.raises(ArtifactNotFound):
        artifact_store.get_bytes("d/x")


# ---- errors ---------------------------------------------------------------------------------


def test_missing_key_raises_artifact_not_found(artifact_store: ArtifactStore, scratch: Path) -> None:
    with pytest.raises(ArtifactNotFound):
        artifact_store.get_bytes("missing/key")
    with pytest.raises(ArtifactNotFound):
        artifact_store.get_file("missing/key", scratch / "out.bin")
    assert not (scratch / "out.bin").exists()
    assert issubclass(ArtifactNotFound, KeyError)


INVALID_KEYS = ["../x", "/abs", "a//b", "", "a/../b", "./a", "a/", "a/./b", "..", "a\\b"]

KEY_OPERATIONS: dict[str, Callable[[ArtifactStore, str, Path], Any]] = {
    "put_bytes": lambda store, key, tmp: store.put_bytes(key, b"x"),
    "put_file": lambda store, key, tmp: store.put_file(key, tmp / "source"),
    "get_bytes": lambda store, key, tmp: store.get_bytes(key),
    "get_file": lambda store, key, tmp: store.get_file(key, tmp / "destination"),
    "exists": lambda store, key, tmp: store.exists(key),
    "delete": lambda store, key, tmp: store.delete(key),
    "download_url": lambda store, key, tmp: store.download_url(key),
}


@pytest.mark.parametrize("operation", sorted(KEY_OPERATIONS))
@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_rejected(artifact_store: ArtifactStore, scratch: Path, key: str, operation: str) -> None:
    (scratch / "source").write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid artifact key"):
        KEY_OPERATIONS[operation](artifact_store, key, scratch)
    assert artifact_store.list_keys() == []
    assert not (scratch / "destination").exists()


def test_nothing_escapes_the_store(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    before = sorted(p for p in tmp_path.rglob("*"))
    for key in ("../escaped", "../../escaped", "/tmp/escaped"):
        with pytest.raises(ValueError):
            artifact_store.put_bytes(key, b"x")
    assert sorted(p for p in tmp_path.rglob("*")) == before


# ---- large files, atomicity, URLs -----------------------------------------------------------


def test_a_large_file_streams_through_put_file_and_get_file(artifact_store: ArtifactStore, scratch: Path) -> None:
    source = _big_file(scratch / "big.bin", size_mb=20)
    size = source.stat().st_size

    tracemalloc.start()
    try:
        stored = artifact_store.put_file("big/model.bin", source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        destination = artifact_store.get_file("big/model.bin", scratch / "copy.bin")
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored == size == 20 * MB
    assert _sha256(destination) == _sha256(source)
    assert put_peak < size // 2, f"put_file held {put_peak} bytes at once: it must stream, not read the file whole"
    assert get_peak < size // 2, f"get_file held {get_peak} bytes at once: it must stream, not read the file whole"


def test_get_file_is_atomic(artifact_store: ArtifactStore, scratch: Path) -> None:
    source = _big_file(scratch / "big.bin", size_mb=20)
    size = source.stat().st_size
    artifact_store.put_file("big.bin", source)
    destination = scratch / "downloads" / "big.bin"
    destination.parent.mkdir()
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                seen.add(destination.stat().st_size)
            except FileNotFoundError:
                seen.add(-1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        artifact_store.get_file("big.bin", destination)
    finally:
        done.set()
        watcher.join()

    assert seen <= {-1, size}, f"the destination was seen partly written: sizes {sorted(seen)}"
    assert _sha256(destination) == _sha256(source)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["big.bin"], "no temporary files are left behind"


def test_download_url_serves_the_content(artifact_store: ArtifactStore) -> None:
    artifact_store.put_bytes("studies/s1/bundle.zip", b"PK\x03\x04 zip bytes")

    url = artifact_store.download_url("studies/s1/bundle.zip", expires_seconds=60)

    assert url.split(":", 1)[0] in {"file", "http", "https"}
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"PK\x03\x04 zip bytes"


def test_keys_with_unusual_characters_round_trip(artifact_store: ArtifactStore) -> None:
    keys = ["with space/file name.txt", "ümlaut/naïve.bin", "dots/v1.2.3.tar.gz", "dash-and_underscore/x=y"]
    for key in keys:
        artifact_store.put_bytes(key, key.encode())
    for key in keys:
        assert artifact_store.get_bytes(key) == key.encode()
    assert artifact_store.list_keys() == sorted(keys)
