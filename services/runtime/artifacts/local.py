"""ArtifactStore on a local folder: the embedded default."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from services.runtime.artifacts.port import ArtifactNotFound, check_key


class LocalArtifactStore:
    """Keys are paths under ``root``; the folders are made by the first write (a store that is only made,
    e.g. for a run that is then refused, leaves nothing on disk)."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def _path(self, key: str) -> Path:
        return self._root / check_key(key)

    def put_bytes(self, key: str, data: bytes) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
        return len(data)

    def put_file(self, key: str, path: Path) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        return target.stat().st_size

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        return path.read_bytes()

    def get_file(self, key: str, destination: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=".part-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, destination)
        return destination

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        keys = [
            p.relative_to(self._root).as_posix()
            for p in self._root.rglob("*")
            if p.is_file() and not p.name.startswith(".part-")
        ]
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def download_url(self, key: str, expires_seconds: int = 3600) -> str:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        return path.as_uri()
