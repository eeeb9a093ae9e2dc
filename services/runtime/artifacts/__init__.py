"""Artifact storage: the port and its implementations."""

from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.artifacts.port import ArtifactNotFound, ArtifactStore

__all__ = ["ArtifactNotFound", "ArtifactStore", "LocalArtifactStore"]
