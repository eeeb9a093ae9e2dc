"""Reading pickles and ``.npz`` archives without letting a tampered file run code.

CIFAR batches and Keras' IMDB/Reuters ``.npz`` files need pickle (numpy arrays, ragged sequences).
The unpickler here only resolves the globals that rebuild numpy arrays; anything else is refused.
"""

from __future__ import annotations

import codecs
import io
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from services.trainer.datasets.errors import DatasetError


def _numpy_global(name: str) -> Any:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, name)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):  # how protocol-2 pickles written by Python 3 store bytes
            return codecs.encode
        if module in {"numpy.core.multiarray", "numpy._core.multiarray"} and name in {"_reconstruct", "scalar"}:
            return _numpy_global(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_pickle(path: Path) -> Any:
    """Unpickle ``path`` (Python 2 or 3 pickles; byte strings stay bytes). Failures raise DatasetError."""
    try:
        with path.open("rb") as f:
            return _RestrictedUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as e:
        raise DatasetError(
            f"{path}: not a readable pickle ({e}); the file is corrupt or not in the expected format"
        ) from e


def _read_npy(raw: io.BytesIO) -> Any:
    version = np.lib.format.read_magic(raw)
    if version[0] == 1:
        _, _, dtype = np.lib.format.read_array_header_1_0(raw)
    else:
        _, _, dtype = np.lib.format.read_array_header_2_0(raw)
    if dtype.hasobject:
        return _RestrictedUnpickler(raw, encoding="latin1").load()
    raw.seek(0)
    return np.lib.format.read_array(raw, allow_pickle=False)


def load_npz(path: Path) -> dict[str, Any]:
    """All arrays of an ``.npz`` archive; object arrays go through the restricted unpickler."""
    arrays: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member[: -len(".npy")]] = _read_npy(io.BytesIO(archive.read(member)))
    except (zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, EOFError, ValueError, OSError) as e:
        raise DatasetError(f"{path}: not a readable .npz archive ({e}); delete it and download it again") from e
    return arrays


def npz_lengths(path: Path) -> dict[str, int]:
    """The first dimension of every array in an ``.npz``, read from the headers only."""
    lengths: dict[str, int] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not member.endswith(".npy"):
                    continue
                with archive.open(member) as raw:
                    head = io.BytesIO(raw.read(4096))
                version = np.lib.format.read_magic(head)
                reader = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
                shape = reader(head)[0]
                lengths[member[: -len(".npy")]] = int(shape[0]) if shape else 1
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError) as e:
        raise DatasetError(f"{path}: not a readable .npz archive ({e}); delete it and download it again") from e
    return lengths
