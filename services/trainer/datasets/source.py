"""What a format reader hands to the registry: the splits found on disk, before any splitting."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

TokenList = list[str] | list[int]


@dataclass(frozen=True)
class RawSplit:
    """One split as stored. Images: ``x`` float32 (N, H, W, C) in [0, 1]. Text: object array of token lists."""

    x: npt.NDArray[np.generic]
    y: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class RawData:
    """The splits a source holds (``train`` and/or ``test``) and its label space."""

    train: RawSplit | None
    test: RawSplit | None
    class_names: list[str]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """A set of files found on disk that can be loaded; ``num_samples`` is a cheap count or estimate."""

    format: str
    location: Path
    num_samples: int
    splits: tuple[str, ...]
    load: Callable[[], RawData]

    def describe(self) -> str:
        """One phrase for ``DatasetSplits.source`` and the datasets API."""
        if self.splits == ("all",):
            held = "one pool"
        elif len(self.splits) > 1:
            held = " + ".join(self.splits)
        else:
            held = f"{self.splits[0]} split only"
        return f"{self.format} in {self.location} ({held}, ~{self.num_samples} samples)"


def search_dirs(data_dir: Path, name: str, aliases: Sequence[str] = (), nested: Sequence[str] = ()) -> list[Path]:
    """Existing folders to look in: ``data_dir/<name>`` (and aliases), ``data_dir``, plus ``nested`` below each."""
    bases = [data_dir / n for n in (name, *aliases)] + [data_dir]
    found: list[Path] = []
    for base in bases:
        for candidate in (base, *(base / sub for sub in nested)):
            if candidate.is_dir() and candidate.resolve() not in {f.resolve() for f in found}:
                found.append(candidate)
    return found


def first_existing(directory: Path, names: Iterable[str]) -> Path | None:
    """The first of ``names`` that is a file in ``directory``."""
    for name in names:
        path = directory / name
        if path.is_file():
            return path
    return None


def images_to_float(images: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """uint8 pixels (N, H, W, C) to float32 in [0, 1]."""
    out = images.astype(np.float32)
    out /= 255.0
    return out


def object_array(items: Sequence[object]) -> npt.NDArray[np.object_]:
    """A 1-D object array holding ``items`` as they are (numpy would otherwise stack equal-length lists)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def labels_array(labels: Sequence[int] | npt.NDArray[np.generic]) -> npt.NDArray[np.int64]:
    """Labels as a flat int64 array."""
    return np.asarray(labels, dtype=np.int64).reshape(-1)
