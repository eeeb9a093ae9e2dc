"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): always available offline.

The images are read from scikit-learn's own copy (``sklearn/datasets/data/digits.csv.gz``, 64 pixels and
the label per row, as ``load_digits`` reads it) with NumPy: importing scikit-learn to load them costs
about 1.7 s of SciPy imports, ten times the reading. Where that file is not found, ``load_digits`` does it.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array

NUM_SAMPLES = 1797
SIDE = 8


def bundled_digits_file() -> Path | None:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn; None when it is not there."""
    spec = importlib.util.find_spec("sklearn")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / "datasets" / "data" / "digits.csv.gz"
        if candidate.is_file():
            return candidate
    return None


def read_digits() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The images ``(1797, 8, 8)`` (pixels 0..16) and their labels, as ``sklearn.datasets.load_digits`` gives."""
    path = bundled_digits_file()
    if path is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return np.asarray(bunch.images, dtype=np.float64), labels_array(bunch.target)
    with gzip.open(path, "rt") as rows:
        table = np.loadtxt(rows, delimiter=",")
    return table[:, :-1].reshape(-1, SIDE, SIDE), labels_array(table[:, -1].astype(np.int64))


def find_digits() -> Source:
    """The digits source; it ignores any data directory. Pixels 0..16 are scaled to [0, 1]."""

    def load() -> RawData:
        images, labels = read_digits()
        scaled = (images.astype(np.float32) / 16.0)[..., None]
        return RawData(train=RawSplit(scaled, labels), test=None, class_names=[])

    return Source("scikit-learn load_digits", Path("sklearn.datasets"), NUM_SAMPLES, ("all",), load)
