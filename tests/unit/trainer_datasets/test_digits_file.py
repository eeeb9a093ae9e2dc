"""The digits loader reads scikit-learn's bundled file itself: the same images and labels as ``load_digits``."""

from __future__ import annotations

import numpy as np
import pytest

from services.trainer.datasets import digits


def test_the_bundled_file_gives_what_load_digits_gives() -> None:
    from sklearn.datasets import load_digits

    assert digits.bundled_digits_file() is not None
    images, labels = digits.read_digits()
    bunch = load_digits()
    assert images.shape == (digits.NUM_SAMPLES, 8, 8) and labels.dtype == np.int64
    assert np.array_equal(images, bunch.images) and np.array_equal(labels, bunch.target)


def test_without_the_file_load_digits_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = digits.read_digits()
    monkeypatch.setattr(digits, "bundled_digits_file", lambda: None)
    fallback = digits.read_digits()
    assert np.array_equal(direct[0], fallback[0]) and np.array_equal(direct[1], fallback[1])
