"""What only the S3 ArtifactStore has: URLs, prefixes, bucket creation, multipart, endpoint errors.

The shared semantics are THE contract suite's (``test_artifact_store_contract.py``); the server is
``conftest.py``'s.
"""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from services.runtime.artifacts import S3ArtifactStore

MB = 1024 * 1024


def test_importing_the_package_does_not_import_minio() -> None:
    code = "import sys, services.runtime.artifacts; sys.exit('minio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def _store(server: Any, bucket: str, **options: Any) -> S3ArtifactStore:
    from services.runtime.artifacts import S3ArtifactStore

    return S3ArtifactStore(server.endpoint, server.access_key, server.secret_key, bucket, **options)


@pytest.mark.integration
def test_from_url_reads_credentials_bucket_prefix_and_region(s3_server: Any, s3_bucket: str) -> None:
    from services.runtime.artifacts import S3ArtifactStore

    url = f"http://{s3_server.access_key}:{s3_server.secret_key}@{s3_server.endpoint}/{s3_bucket}/team%20a/run1"
    store = S3ArtifactStore.from_url(url + "?region=us-east-1")
    store.put_bytes("model.bin", b"m")

    assert store.list_keys() == ["model.bin"]
    assert _store(s3_server, s3_bucket).list_keys() == ["team a/run1/model.bin"]
    assert f":{s3_server.secret_key}@" not in repr(store)


@pytest.mark.parametrize("url", ["ftp://a:b@host/bucket", "http://a:b@host", "http://a:b@host/", "not a url"])
def test_from_url_rejects_what_is_not_an_s3_url(url: str) -> None:
    pytest.importorskip("minio")
    from services.runtime.artifacts import S3ArtifactStore

    with pytest.raises(ValueError, match="an S3 URL looks like"):
        S3ArtifactStore.from_url(url)


@pytest.mark.integration
def test_prefixes_keep_stores_in_one_bucket_apart(s3_server: Any, s3_bucket: str) -> None:
    first = _store(s3_server, s3_bucket, prefix="deployments/one/")
    second = _store(s3_server, s3_bucket, prefix="deployments/two")
    first.put_bytes("k", b"1")
    second.put_bytes("k", b"2")

    assert first.get_bytes("k") == b"1"
    assert second.get_bytes("k") == b"2"
    assert first.list_keys() == second.list_keys() == ["k"]
    first.delete("k")
    assert second.exists("k")


def test_bad_prefixes_and_part_sizes_are_rejected() -> None:
    pytest.importorskip("minio")
    from services.runtime.artifacts import S3ArtifactStore

    with pytest.raises(ValueError, match="invalid artifact key"):
        S3ArtifactStore("127.0.0.1:1", "a", "b", "bucket", prefix="../elsewhere")
    with pytest.raises(ValueError, match="part_size"):
        S3ArtifactStore("127.0.0.1:1", "a", "b", "bucket", part_size=MB)


@pytest.mark.integration
def test_concurrent_stores_create_the_bucket_once(s3_server: Any, s3_bucket: str) -> None:
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            _store(s3_server, s3_bucket, region="eu-west-1").put_bytes("k", b"v")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _store(s3_server, s3_bucket).get_bytes("k") == b"v"


@pytest.mark.integration
def test_a_large_file_goes_up_in_parts(s3_server: Any, s3_bucket: str, tmp_path: Path) -> None:
    store = _store(s3_server, s3_bucket, part_size=5 * MB)
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x01" * (12 * MB))

    assert store.put_file("big.bin", source) == 12 * MB

    etag = s3_server.client().stat_object(s3_bucket, "big.bin").etag
    assert etag.endswith("-3"), f"expected a 3-part multipart upload, got etag {etag}"
    assert store.get_bytes("big.bin") == source.read_bytes()


@pytest.mark.integration
def test_download_url_of_a_missing_key_raises(s3_server: Any, s3_bucket: str) -> None:
    from services.runtime.artifacts import ArtifactNotFound

    with pytest.raises(ArtifactNotFound):
        _store(s3_server, s3_bucket).download_url("missing")


def test_an_unreachable_endpoint_is_a_clear_error_naming_it() -> None:
    pytest.importorskip("minio")
    import urllib3

    from services.runtime.artifacts import ArtifactStoreError, S3ArtifactStore
    from services.runtime.errors import RetryableError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        no_retries = urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=urllib3.Timeout(connect=2, read=2))
        with pytest.raises(ArtifactStoreError, match=rf"http://127\.0\.0\.1:{port}/some-bucket.*cannot reach"):
            S3ArtifactStore(f"127.0.0.1:{port}", "a", "b", "some-bucket", http_client=no_retries)
    assert issubclass(ArtifactStoreError, RetryableError)


def test_a_store_crosses_into_a_spawned_process(s3_server: Any, s3_bucket: str) -> None:
    """The trainer hands its store to the process that trains (``spawn``: the store is pickled)."""
    store = _store(s3_server, s3_bucket, prefix="spawned")
    store.put_bytes("from-parent", b"hello")
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        copied = pool.apply(_copy_in_child, (store,))
    assert copied == b"hello"
    assert store.get_bytes("from-child") == b"hello"


def _copy_in_child(store: Any) -> bytes:
    data: bytes = store.get_bytes("from-parent")
    store.put_bytes("from-child", data)
    return data
