"""Builders for tiny dataset files in each original format, written into ``tmp_path`` by the tests."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding ``array``."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool = True) -> None:
    """``<prefix>-images-idx3-ubyte[.gz]`` and ``<prefix>-labels-idx1-ubyte[.gz]`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, dims, array in (("images", 3, images), ("labels", 1, labels)):
        name = f"{prefix}-{kind}-idx{dims}-ubyte"
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def digit_images(labels: Sequence[int], side: int = 28) -> np.ndarray:
    """Images whose pixel (0, 0) encodes the label (label * 20) so tests can check the pairing."""
    images = np.zeros((len(labels), side, side), dtype=np.uint8)
    images[:, 0, 0] = np.asarray(labels) * 20
    images[:, 1:, 1:] = 7
    return images


def balanced_labels(per_class: int, num_classes: int = 10) -> np.ndarray:
    return np.repeat(np.arange(num_classes), per_class)


def write_kaggle_csv(path: Path, labels: Sequence[int]) -> None:
    images = digit_images(labels)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    rows = [f"{y}," + ",".join(str(v) for v in img.reshape(-1)) for y, img in zip(labels, images, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def write_cifar_batch(path: Path, labels: Sequence[int], label_key: str = "labels", as_list: bool = False) -> None:
    """A CIFAR batch pickle; red channel of pixel (0, 0) = label, green everywhere = 100."""
    data = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)
    data[:, 0, 0, 0] = np.asarray(labels)
    data[:, 1] = 100
    flat = data.reshape(len(labels), -1)
    payload = {b"data": [row for row in flat] if as_list else flat, label_key.encode(): list(labels)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(payload, f, protocol=2)


def write_image(path: Path, size: tuple[int, int] = (16, 12), color: int | tuple[int, ...] = 128, mode: str = "RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def write_npz(path: Path, **arrays: object) -> None:
    """An ``.npz`` like Keras': ragged object arrays pickled inside."""
    buffers = {}
    for key, value in arrays.items():
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=True)
        buffers[key] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for key, data in buffers.items():
            z.writestr(f"{key}.npy", data)


def ragged(seqs: Sequence[Sequence[int]]) -> np.ndarray:
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = list(s)
    return out


@pytest.fixture
def make() -> SimpleNamespace:
    """The builders above, as ``make.write_idx_pair(...)`` etc."""
    return SimpleNamespace(
        write_idx_pair=write_idx_pair,
        idx_bytes=idx_bytes,
        digit_images=digit_images,
        balanced_labels=balanced_labels,
        write_kaggle_csv=write_kaggle_csv,
        write_cifar_batch=write_cifar_batch,
        write_image=write_image,
        write_npz=write_npz,
        ragged=ragged,
    )
