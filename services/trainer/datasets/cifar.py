"""CIFAR-10 / CIFAR-100 in the original Python-pickle format.

CIFAR-10: ``cifar-10-batches-py/{data_batch_1..5, test_batch[, batches.meta]}``.
CIFAR-100: ``cifar-100-python/{train, test[, meta]}``, fine labels (100 classes).
Each batch is a dict with ``data`` (N x 3072 uint8, channel-major 3x32x32 rows) and the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.safe_io import load_pickle
from services.trainer.datasets.source import RawData, RawSplit, Source, images_to_float, labels_array

_RECORD_BYTES = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its batches and which keys hold labels and names."""

    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: str
    names_key: str


CIFAR10 = CifarLayout(
    folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    meta_file="batches.meta",
    label_key="labels",
    names_key="label_names",
)
CIFAR100 = CifarLayout(
    folder="cifar-100-python",
    train_files=("train",),
    test_files=("test",),
    meta_file="meta",
    label_key="fine_labels",
    names_key="fine_label_names",
)


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _as_dict(path: Path, obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a pickled dict, found {type(obj).__name__}; not a CIFAR batch file")
    return {_text(k): v for k, v in obj.items()}


def read_batch(path: Path, layout: CifarLayout, num_classes: int) -> RawSplit:
    """One pickled batch as images (N, 32, 32, 3) in [0, 1] and labels."""
    batch = _as_dict(path, load_pickle(path))
    if "data" not in batch or layout.label_key not in batch:
        raise DatasetError(f"{path}: CIFAR batch lacks 'data' or '{layout.label_key}' (keys: {sorted(batch)})")
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = labels_array(batch[layout.label_key])
    except (ValueError, TypeError) as e:
        raise DatasetError(f"{path}: CIFAR batch has malformed data or labels ({e})") from e
    if data.ndim != 2 or data.shape[1] != _RECORD_BYTES:
        raise DatasetError(f"{path}: CIFAR data must be N x {_RECORD_BYTES} bytes, found shape {data.shape}")
    if len(labels) != len(data):
        raise DatasetError(f"{path}: {len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{path}: labels must be 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return RawSplit(images_to_float(images), labels)


def _concat(parts: list[RawSplit]) -> RawSplit | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return RawSplit(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def read_class_names(directory: Path, layout: CifarLayout, default: Sequence[str]) -> list[str]:
    """Class names from the meta file when present and sane, else ``default``."""
    path = directory / layout.meta_file
    if not path.is_file():
        return list(default)
    meta = _as_dict(path, load_pickle(path))
    names = [_text(n) for n in meta.get(layout.names_key, [])]
    if len(names) != len(default):
        raise DatasetError(f"{path}: '{layout.names_key}' holds {len(names)} names, expected {len(default)}")
    return names


def _batch_dir(directory: Path, layout: CifarLayout) -> Path | None:
    for candidate in (directory / layout.folder, directory):
        if any((candidate / f).is_file() for f in (*layout.train_files, *layout.test_files)):
            return candidate
    return None


def find_cifar(directory: Path, layout: CifarLayout, default_names: Sequence[str]) -> Source | None:
    """A CIFAR pickle source in ``directory`` (or its ``cifar-*-py*`` subfolder)."""
    batch_dir = _batch_dir(directory, layout)
    if batch_dir is None:
        return None
    train = [batch_dir / f for f in layout.train_files if (batch_dir / f).is_file()]
    test = [batch_dir / f for f in layout.test_files if (batch_dir / f).is_file()]
    # An estimate from file sizes: each record is 3072 pixel bytes plus a little pickle overhead.
    count = max(1, sum(p.stat().st_size for p in (*train, *test)) // (_RECORD_BYTES + 32))
    splits = tuple(name for name, files in (("train", train), ("test", test)) if files)

    def load() -> RawData:
        names = read_class_names(batch_dir, layout, default_names)
        return RawData(
            train=_concat([read_batch(p, layout, len(names)) for p in train]),
            test=_concat([read_batch(p, layout, len(names)) for p in test]),
            class_names=names,
        )

    return Source("CIFAR pickles", batch_dir, count, splits, load)
