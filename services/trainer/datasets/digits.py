"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): always available offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array

NUM_SAMPLES = 1797


def find_digits() -> Source:
    """The digits source; it ignores any data directory. Pixels 0..16 are scaled to [0, 1]."""

    def load() -> RawData:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = (np.asarray(bunch.images, dtype=np.float32) / 16.0)[..., None]
        return RawData(train=RawSplit(images, labels_array(bunch.target)), test=None, class_names=[])

    return Source("scikit-learn load_digits", Path("sklearn.datasets"), NUM_SAMPLES, ("all",), load)
