"""MNIST / Fashion-MNIST in Kaggle's CSV layout: header ``label,pixel1..pixel784``, one image per row."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, images_to_float, labels_array


def candidate_names(prefix: str, split: str) -> list[str]:
    """``mnist_test.csv``, ``fashion-mnist_test.csv`` (also with ``_`` for ``-``)."""
    return list(dict.fromkeys([f"{prefix}_{split}.csv", f"{prefix.replace('-', '_')}_{split}.csv"]))


def _count_rows(path: Path) -> int:
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _check_header(path: Path) -> int:
    with path.open("r", encoding="utf-8", errors="replace") as f:
        header = [h.strip().strip('"').lower() for h in f.readline().split(",")]
    side = math.isqrt(len(header) - 1) if len(header) > 1 else 0
    if not header or header[0] != "label" or side * side != len(header) - 1 or side == 0:
        raise DatasetError(
            f"{path}: expected a Kaggle-style header 'label,pixel1,...,pixel784' (a label then a square number of "
            f"pixel columns); its first line has {len(header)} columns"
        )
    return side


def find_kaggle_csv(directory: Path, prefix: str, num_classes: int) -> Source | None:
    """A Kaggle CSV source in ``directory`` when ``<prefix>_train.csv`` and/or ``<prefix>_test.csv`` exist."""
    files: dict[str, Path] = {}
    for split in ("train", "test"):
        path = next((directory / n for n in candidate_names(prefix, split) if (directory / n).is_file()), None)
        if path is not None:
            files[split] = path
    if not files:
        return None
    count = sum(_count_rows(path) for path in files.values())

    def load() -> RawData:
        loaded = {split: read_kaggle_csv(path, num_classes) for split, path in files.items()}
        return RawData(train=loaded.get("train"), test=loaded.get("test"), class_names=[])

    return Source("Kaggle CSV", directory, count, tuple(files), load)


def read_kaggle_csv(path: Path, num_classes: int) -> RawSplit:
    """Read one Kaggle CSV into images (N, side, side, 1) in [0, 1] and labels."""
    side = _check_header(path)
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise DatasetError(f"{path}: malformed CSV ({e})") from e
    if table.shape[0] == 0:
        raise DatasetError(f"{path}: holds a header but no rows")
    if table.shape[1] != side * side + 1:
        raise DatasetError(f"{path}: rows have {table.shape[1]} columns, the header says {side * side + 1}")
    labels, pixels = table[:, 0], table[:, 1:]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise DatasetError(f"{path}: labels must be 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DatasetError(f"{path}: pixel values must be 0..255, found {pixels.min()}..{pixels.max()}")
    images = pixels.astype(np.uint8).reshape(-1, side, side, 1)
    return RawSplit(images_to_float(images), labels_array(labels))
