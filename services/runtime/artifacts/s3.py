"""ArtifactStore on S3 or MinIO through the ``minio`` client: the distributed implementation.

Objects live in one bucket (created on first use; concurrent creators are tolerated), optionally
under a key ``prefix`` so several deployments can share a bucket. Semantics match
``LocalArtifactStore`` and are pinned by the shared contract suite: keys are checked with
``check_key``, a missing key raises ``ArtifactNotFound``.

Memory stays bounded by one multipart part: ``put_file`` uploads a file larger than ``part_size``
in sequential parts of ``part_size`` bytes, holding one at a time; ``get_file`` streams in 1 MiB
chunks to a temporary file next to the destination and renames it into place. A server that cannot
be reached, or that fails a request, raises ``ArtifactStoreError`` naming the endpoint and bucket.

Needs the optional extra ``hpo[s3]``.
"""

from __future__ import annotations

import io
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

from services.runtime.artifacts.port import ArtifactNotFound, check_key
from services.runtime.errors import RetryableError

try:
    import urllib3
    from minio import Minio
    from minio.datatypes import Part
    from minio.error import MinioException, S3Error
    from urllib3.exceptions import HTTPError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("S3ArtifactStore needs the minio client: pip install 'hpo[s3]'") from exc

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
_CHUNK = MiB
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "NoSuchObject"})


class ArtifactStoreError(RetryableError):
    """The S3 endpoint could not be reached, or refused or failed a request."""


@dataclass(frozen=True)
class _Connection:
    """What a client is built from (kept, so that a store rebuilt after pickling connects the same way)."""

    endpoint: str
    access_key: str | None
    secret_key: str | None
    secure: bool
    region: str | None

    def client(self, http_client: urllib3.PoolManager | None = None) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
            http_client=http_client,
        )


class S3ArtifactStore:
    """Artifacts as objects ``<prefix><key>`` in one S3 / MinIO bucket."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        region: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        prefix: str = "",
        http_client: urllib3.PoolManager | None = None,
    ) -> None:
        """Connect and create ``bucket`` when it is missing.

        ``http_client`` replaces minio's default pool (5 retries, 5-minute timeouts, CA bundle from
        ``SSL_CERT_FILE`` or certifi), e.g. for other timeouts, retries or certificates.
        """
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB, not {part_size}")
        prefix = prefix.strip("/")
        self._prefix = check_key(prefix) + "/" if prefix else ""
        self._bucket = bucket
        self._region = region
        self._part_size = part_size
        self._where = f"{'https' if secure else 'http'}://{endpoint}/{bucket}"
        self._connection = _Connection(endpoint, access_key or None, secret_key or None, secure, region)
        self._client = self._connection.client(http_client)
        self._ensure_bucket()

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (the trainer hands the store to its trial process): the client is rebuilt on
        the other side from the same settings, with minio's default connection pool."""
        state = self.__dict__.copy()
        del state["_client"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client = self._connection.client()

    @classmethod
    def from_url(
        cls, url: str, *, part_size: int = DEFAULT_PART_SIZE, http_client: urllib3.PoolManager | None = None
    ) -> S3ArtifactStore:
        """A store from ``http[s]://ACCESS:SECRET@HOST[:PORT]/BUCKET[/PREFIX][?region=REGION]``."""
        parts = urlsplit(url)
        bucket, _, prefix = unquote(parts.path).lstrip("/").partition("/")
        if parts.scheme not in ("http", "https") or not parts.hostname or not bucket:
            raise ValueError("an S3 URL looks like http[s]://ACCESS:SECRET@HOST[:PORT]/BUCKET[/PREFIX]")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        endpoint = f"{host}:{parts.port}" if parts.port else host
        region = parse_qs(parts.query).get("region", [None])[0]
        return cls(
            endpoint,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            bucket,
            secure=parts.scheme == "https",
            region=region,
            part_size=part_size,
            prefix=prefix,
            http_client=http_client,
        )

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self._where!r}, prefix={self._prefix!r})"

    @property
    def bucket(self) -> str:
        return self._bucket

    # ---- the ArtifactStore port ----------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> int:
        name = self._name(key)
        with self._errors("put", key):
            self._client.put_object(
                self._bucket,
                name,
                io.BytesIO(data),
                len(data),
                content_type=_content_type(key),
                part_size=self._part_size,
                num_parallel_uploads=1,
            )
        return len(data)

    def put_file(self, key: str, path: Path) -> int:
        name = self._name(key)
        size = path.stat().st_size
        with self._errors("put", key), path.open("rb") as source:
            if size <= self._part_size:
                self._client.put_object(self._bucket, name, source, size, content_type=_content_type(key))
            else:
                self._put_multipart(name, source, size, _content_type(key))
        return size

    def get_bytes(self, key: str) -> bytes:
        name = self._name(key)
        with self._errors("get", key):
            response = self._client.get_object(self._bucket, name)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def get_file(self, key: str, destination: Path) -> Path:
        name = self._name(key)
        with self._errors("get", key):
            response = self._client.get_object(self._bucket, name)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
                try:
                    with os.fdopen(fd, "wb") as out:
                        for chunk in response.stream(_CHUNK):
                            out.write(chunk)
                    os.replace(tmp, destination)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            finally:
                response.close()
                response.release_conn()
        return destination

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            with self._errors("stat", key):
                self._client.stat_object(self._bucket, name)
        except ArtifactNotFound:
            return False
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        skip = len(self._prefix)
        with self._errors("list", prefix):
            objects = self._client.list_objects(self._bucket, prefix=self._prefix + prefix or None, recursive=True)
            names = [o.object_name for o in objects if o.object_name and not o.is_dir]
        return sorted(n[skip:] for n in names)

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            with self._errors("delete", key):
                self._client.remove_object(self._bucket, name)
        except ArtifactNotFound:
            pass

    def download_url(self, key: str, expires_seconds: int = 3600) -> str:
        name = self._name(key)
        with self._errors("presign", key):
            self._client.stat_object(self._bucket, name)
            return self._client.presigned_get_object(self._bucket, name, expires=timedelta(seconds=expires_seconds))

    # ---- helpers -------------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _put_multipart(self, name: str, source: BinaryIO, size: int, content_type: str) -> None:
        """Upload part by part, holding one part at a time.

        minio's ``put_object`` keeps the previous part alive while it reads the next (two parts in
        memory), so this drives minio's multipart primitives itself; a failed upload is aborted.
        """
        part_size = max(self._part_size, -(-size // MAX_PARTS))
        client = self._client
        upload_id = client._create_multipart_upload(self._bucket, name, {"Content-Type": content_type})
        try:
            parts: list[Part] = []
            while data := source.read(part_size):
                number = len(parts) + 1
                etag = client._upload_part(self._bucket, name, data, None, upload_id, number)
                del data  # free this part before the next one is read
                parts.append(Part(number, etag))
            client._complete_multipart_upload(self._bucket, name, upload_id, parts)
        except BaseException:
            with suppress(Exception):
                client._abort_multipart_upload(self._bucket, name, upload_id)
            raise

    def _ensure_bucket(self) -> None:
        with self._errors("bucket creation", ""):
            if self._client.bucket_exists(self._bucket):
                return
            try:
                self._client.make_bucket(self._bucket, location=self._region)
            except S3Error as exc:
                if exc.code != "BucketAlreadyOwnedByYou":  # another process created it meanwhile
                    raise

    @contextmanager
    def _errors(self, operation: str, key: str) -> Iterator[None]:
        """Translate minio and urllib3 errors: a missing key, or a failing or unreachable endpoint."""
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING_KEY_CODES:
                raise ArtifactNotFound(key) from exc
            self._fail(operation, key, f"{exc.code}: {exc.message}", exc)
        except MinioException as exc:
            self._fail(operation, key, str(exc), exc)
        except HTTPError as exc:
            self._fail(operation, key, f"cannot reach the endpoint: {exc}", exc)

    def _fail(self, operation: str, key: str, reason: str, exc: Exception) -> NoReturn:
        target = f"{self._where}/{self._prefix}{key}" if key else self._where
        raise ArtifactStoreError(f"S3 {operation} failed at {target}: {reason}") from exc


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"
