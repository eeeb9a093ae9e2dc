"""Artifact storage: the port and its implementations.

``S3ArtifactStore`` (and its ``ArtifactStoreError``) load on first access, so importing this package
never imports ``minio``, which only the ``hpo[s3]`` extra installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.artifacts.port import ArtifactNotFound, ArtifactStore

if TYPE_CHECKING:
    from services.runtime.artifacts.s3 import ArtifactStoreError, S3ArtifactStore

__all__ = ["ArtifactNotFound", "ArtifactStore", "ArtifactStoreError", "LocalArtifactStore", "S3ArtifactStore"]

_LAZY = frozenset({"ArtifactStoreError", "S3ArtifactStore"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from services.runtime.artifacts import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
