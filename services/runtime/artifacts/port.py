"""The ArtifactStore port: named blobs (models, plots, result bundles) under ``/``-separated keys.

Synchronous on purpose: trainers call it from their training thread, async callers wrap it in
``asyncio.to_thread``. Keys are relative, ``/``-separated, without ``..``; implementations reject
anything else with ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ArtifactNotFound(KeyError):
    """No artifact under that key."""


class ArtifactStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> int:
        """Store ``data`` under ``key`` (replacing any previous one); returns its size."""

    def put_file(self, key: str, path: Path) -> int:
        """Store a file's content under ``key``; large files stream, they are never read whole."""

    def get_bytes(self, key: str) -> bytes:
        """The content under ``key``; raises ``ArtifactNotFound``."""

    def get_file(self, key: str, destination: Path) -> Path:
        """Write the content under ``key`` to ``destination`` (atomically); raises ``ArtifactNotFound``."""

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix``, sorted."""

    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is absent."""

    def download_url(self, key: str, expires_seconds: int = 3600) -> str:
        """A URL a client can fetch the artifact from (a presigned URL for S3, ``file://`` locally)."""


def check_key(key: str) -> str:
    """Reject absolute keys, empty parts and ``..``: keys never escape the store."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid artifact key {key!r}: use relative '/'-separated names without '..'")
    return key
