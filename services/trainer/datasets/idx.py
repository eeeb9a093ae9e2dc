"""MNIST / Fashion-MNIST in the original IDX format (``train-images-idx3-ubyte[.gz]`` and friends)."""

from __future__ import annotations

import gzip
import logging
import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, images_to_float, labels_array

log = logging.getLogger(__name__)

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_SPLITS = {"train": "train", "test": "t10k"}


def candidate_names(prefix: str, kind: str) -> list[str]:
    """File names an IDX file may have: ``t10k-images-idx3-ubyte``, ``t10k-images.idx3-ubyte``, each also ``.gz``."""
    dims = 3 if kind == "images" else 1
    stems = [f"{prefix}-{kind}-idx{dims}-ubyte", f"{prefix}-{kind}.idx{dims}-ubyte"]
    return [name for stem in stems for name in (f"{stem}.gz", stem)]


def _read(path: Path, size: int = -1) -> bytes:
    """The (decompressed, when gzip) bytes of ``path``; ``size`` limits how many."""
    try:
        with path.open("rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        if gz:
            with gzip.open(path, "rb") as g:
                return g.read(size)
        with path.open("rb") as f:
            return f.read(size)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(
            f"{path}: cannot read IDX file ({e}); the file is truncated or corrupt, download it again"
        ) from e


def read_header(path: Path, magic: int) -> tuple[int, ...]:
    """The dimensions stored in an IDX header, after checking its magic number."""
    head = _read(path, 16)
    return _parse_header(path, head, magic)


def _parse_header(path: Path, data: bytes, magic: int) -> tuple[int, ...]:
    ndim = magic & 0xFF
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: IDX file is truncated (only {len(data)} bytes); download it again")
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise DatasetError(
            f"{path}: wrong IDX magic number 0x{found:08x} (expected 0x{magic:08x} for unsigned-byte "
            f"{'images' if ndim == 3 else 'labels'}); this is not an MNIST-style IDX file"
        )
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return tuple(int(d) for d in dims)


def read_idx(path: Path, magic: int) -> npt.NDArray[np.uint8]:
    """The whole array of an unsigned-byte IDX file, checking magic number and size."""
    data = _read(path)
    dims = _parse_header(path, data, magic)
    offset = 4 + 4 * len(dims)
    expected = int(np.prod(dims))
    if len(data) - offset < expected:
        raise DatasetError(
            f"{path}: IDX file is truncated ({len(data) - offset} of {expected} data bytes for shape {dims}); "
            "download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=offset).reshape(dims)


def _find_pair(directory: Path, prefix: str) -> tuple[Path, Path] | None:
    images = next((directory / n for n in candidate_names(prefix, "images") if (directory / n).is_file()), None)
    labels = next((directory / n for n in candidate_names(prefix, "labels") if (directory / n).is_file()), None)
    if labels is not None and images is None:
        log.debug("ignoring %s: its images file is missing", labels)
    if images is None or labels is None:
        return None
    return images, labels


def find_idx(directory: Path, num_classes: int) -> Source | None:
    """An IDX source in ``directory`` when at least one split has both its images and labels file."""
    pairs = {split: pair for split, prefix in _SPLITS.items() if (pair := _find_pair(directory, prefix)) is not None}
    if not pairs:
        return None
    count = sum(read_header(images, IMAGES_MAGIC)[0] for images, _ in pairs.values())

    def load() -> RawData:
        loaded = {split: _load_pair(images, labels, num_classes) for split, (images, labels) in pairs.items()}
        shapes = {split.x.shape[1:] for split in loaded.values()}
        if len(shapes) > 1:
            raise DatasetError(f"{directory}: train and test IDX images differ in size ({sorted(shapes)})")
        return RawData(train=loaded.get("train"), test=loaded.get("test"), class_names=[])

    return Source("IDX files", directory, count, tuple(pairs), load)


def _load_pair(images_path: Path, labels_path: Path, num_classes: int) -> RawSplit:
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path}: holds {len(images)} images but {labels_path.name} holds {len(labels)} labels"
        )
    if labels.size and int(labels.max()) >= num_classes:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} is out of range 0..{num_classes - 1}")
    return RawSplit(images_to_float(images[..., None]), labels_array(labels))
