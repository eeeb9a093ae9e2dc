"""The real dataset samples in ../shared/datasets (see its SOURCES.md) load with sensible sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contracts.enums import DatasetName, Modality
from services.trainer.datasets import describe_datasets, load_dataset

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real dataset samples not found at {SHARED}")

# name -> (format in DatasetSplits.source, train, validation, test, classes, input shape, one-split note)
EXPECTED = {
    "mnist": ("IDX files", 7000, 1500, 1500, 10, (28, 28, 1), True),
    "fashion_mnist": ("Kaggle CSV", 700, 150, 150, 10, (28, 28, 1), True),
    "cifar10": ("image folders", 700, 150, 150, 10, (32, 32, 3), True),
    "cifar100": ("CIFAR pickles", 4, 1, 5, 100, (32, 32, 3), False),
    "gtsrb": ("GTSRB folders", 349, 62, 200, 43, (32, 32, 3), False),
    "imdb": ("aclImdb text folders", 350, 75, 75, 2, (), True),
    "reuters": ("Reuters-21578 SGML", 314, 55, 252, 15, (), False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_sample_loads(name):
    fmt, n_train, n_val, n_test, n_classes, shape, one_split = EXPECTED[name]
    data = load_dataset(name, SHARED, seed=0)
    assert data.source.startswith(fmt)
    assert (len(data.train), len(data.validation), len(data.test)) == (n_train, n_val, n_test)
    assert data.num_classes == n_classes and data.input_shape == shape
    assert any("split into train/validation/test" in note for note in data.notes) == one_split
    for split in (data.train, data.validation, data.test):
        assert split.y.dtype == np.int64 and split.y.min() >= 0 and split.y.max() < n_classes
    if data.modality is Modality.IMAGE:
        assert data.train.x.dtype == np.float32 and data.train.x.shape[1:] == shape
        assert data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0 and data.train.x.std() > 0.05
    else:
        assert all(seq.dtype == np.int32 for seq in data.train.x)
        assert np.median([len(seq) for seq in data.train.x]) > 20


def test_mnist_sample_is_the_official_test_set():
    data = load_dataset(DatasetName.MNIST, SHARED / "mnist")
    labels = np.concatenate([data.train.y, data.validation.y, data.test.y])
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    pixels = np.concatenate([data.train.x, data.validation.x, data.test.x])
    assert abs(float(pixels.mean()) * 255 - 33.791) < 0.01


def test_describe_finds_every_real_sample():
    infos = {info.name.value: info for info in describe_datasets(SHARED)}
    for name in EXPECTED:
        assert infos[name].available, infos[name].problem
        assert (infos[name].source or "").startswith(EXPECTED[name][0])
