"""Splitting, capping, seeding, digits, describe_datasets and the download path (without network)."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.enums import DatasetName, Modality
from services.trainer.datasets import DatasetError, DatasetInfo, describe_datasets, load_dataset
from services.trainer.datasets.download import DOWNLOADS, download_missing
from services.trainer.datasets.splits import carve, split_pool, stratified_order, subsample


def test_split_pool_sizes_are_exact_and_stratified():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val, test = split_pool(y, 0.15, 0.15, np.random.default_rng(0))
    assert (len(train), len(val), len(test)) == (140, 30, 30)
    assert len(np.unique(np.concatenate([train, val, test]))) == 200
    assert np.abs(np.bincount(y[val], minlength=4) - np.array([15, 7.5, 4.5, 3])).max() <= 1


def test_prefixes_of_the_stratified_order_keep_class_proportions():
    y = np.repeat(np.arange(3), [300, 200, 100])
    order = stratified_order(y, np.random.default_rng(5))
    for n in (60, 120, 300):
        expected = np.array([300, 200, 100]) * n / 600
        assert np.abs(np.bincount(y[order[:n]], minlength=3) - expected).max() <= 1


def test_a_singleton_class_stays_in_training_and_tiny_pools_still_get_validation():
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    rest, carved = carve(y, 0.15, np.random.default_rng(0))
    assert len(carved) == 2 and 9 in rest
    rest, carved = carve(np.array([3, 7]), 0.15, np.random.default_rng(0))
    assert (len(rest), len(carved)) == (1, 1)
    with pytest.raises(DatasetError, match="too few to carve"):
        carve(np.array([1]), 0.15, np.random.default_rng(0))


def test_subsample_is_stratified():
    y = np.repeat(np.arange(2), [80, 20])
    assert np.bincount(y[subsample(y, 10, np.random.default_rng(1))]).tolist() == [8, 2]


def test_digits_always_available_and_seeded():
    a = load_dataset(DatasetName.DIGITS, None, seed=7)
    b = load_dataset(DatasetName.DIGITS, None, seed=7)
    c = load_dataset(DatasetName.DIGITS, None, seed=8)
    assert a.train.x.shape == (1257, 8, 8, 1) and a.train.x.dtype == np.float32
    assert a.train.x.min() >= 0.0 and a.train.x.max() == 1.0
    assert (len(a.validation), len(a.test)) == (270, 270) and a.num_classes == 10
    assert np.array_equal(a.train.y, b.train.y) and np.array_equal(a.train.x, b.train.x)
    assert not np.array_equal(a.train.y, c.train.y)
    assert "no separate test split" in a.notes[0]


def test_seed_none_is_a_fixed_seed():
    assert np.array_equal(load_dataset(DatasetName.DIGITS, None).test.y, load_dataset(DatasetName.DIGITS, None).test.y)


def test_max_samples_caps_only_the_training_split():
    data = load_dataset(DatasetName.DIGITS, None, max_samples=100, validation_fraction=0.2, test_fraction=0.1)
    assert (len(data.train), len(data.validation), len(data.test)) == (100, 359, 180)
    assert np.bincount(data.train.y).min() >= 9  # stratified: about 10 per class
    assert "capped at 100" in data.notes[-1]


def test_max_samples_for_text_builds_the_vocabulary_from_the_capped_train(tmp_path):
    rows = ["text,label"] + [f"common word{i},{i % 2}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    data = load_dataset(DatasetName.TEXT_CSV, tmp_path, max_samples=10)
    assert len(data.train) == 10
    assert max(int(seq.max()) for seq in data.train.x) == 2 + 10  # "common" + 10 distinct words


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validation_fraction": 0.0}, "validation_fraction must be in"),
        ({"validation_fraction": 0.6, "test_fraction": 0.4}, "must stay below 1"),
        ({"max_samples": 0}, "max_samples must be at least 1"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(DatasetName.DIGITS, None, **kwargs)


def test_unknown_dataset_and_missing_data_dir():
    with pytest.raises(DatasetError, match="unknown dataset 'svhn'; choose one of mnist"):
        load_dataset("svhn", None)  # type: ignore[arg-type]  # a name outside DatasetName on purpose
    with pytest.raises(DatasetError, match="mnist: no data directory given"):
        load_dataset(DatasetName.MNIST, None)


def test_describe_datasets_reports_what_is_present(tmp_path, make):
    y = make.balanced_labels(3)
    make.write_idx_pair(tmp_path / "mnist", "t10k", make.digit_images(y), y)
    (tmp_path / "fashion_mnist").mkdir()
    (tmp_path / "fashion_mnist" / "fashion-mnist_test.csv").write_text("bad,header\n")

    infos = {info.name: info for info in describe_datasets(tmp_path)}

    assert set(infos) == set(DatasetName) and all(isinstance(i, DatasetInfo) for i in infos.values())
    mnist = infos[DatasetName.MNIST]
    assert mnist.available and mnist.num_samples == 30 and "IDX files" in (mnist.source or "")
    assert mnist.num_classes == 10 and mnist.input_shape == (28, 28, 1) and mnist.modality is Modality.IMAGE
    assert infos[DatasetName.DIGITS].available
    assert not infos[DatasetName.CIFAR10].available and "cifar10: no" in (infos[DatasetName.CIFAR10].problem or "")
    assert infos[DatasetName.IMDB].modality is Modality.TEXT and infos[DatasetName.IMDB].input_shape is None
    assert infos[DatasetName.IMAGE_FOLDER].user_data and not infos[DatasetName.IMAGE_FOLDER].available
    # the fashion CSV has a bad header but is only counted here; loading it reports the problem
    with pytest.raises(DatasetError, match="Kaggle-style header"):
        load_dataset(DatasetName.FASHION_MNIST, tmp_path)


def test_download_skips_files_that_are_present(tmp_path, monkeypatch):
    assert set(DOWNLOADS) >= {DatasetName.MNIST, DatasetName.CIFAR10, DatasetName.IMDB, DatasetName.GTSRB}
    assert all(d.url.startswith("https://") for items in DOWNLOADS.values() for d in items)
    for item in DOWNLOADS[DatasetName.IMDB]:
        (tmp_path / item.present).write_bytes(b"x")

    def no_network(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    download_missing(DatasetName.IMDB, tmp_path)


def test_an_interrupted_download_leaves_no_file_behind(tmp_path, monkeypatch):
    class Response:
        headers = {"Content-Length": "100"}
        chunks = [b"x" * 50]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, _size):
            if self.chunks:
                return self.chunks.pop()
            raise OSError("connection reset")

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: Response())
    with pytest.raises(DatasetError, match=r"could not download https://.*imdb\.npz .*connection reset"):
        load_dataset(DatasetName.IMDB, tmp_path, allow_download=True)
    assert list((tmp_path / "imdb").iterdir()) == []
