"""MNIST-style data: IDX (gz and raw) and Kaggle CSV, plus their error messages."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from contracts.enums import DatasetName, Modality
from services.runtime.errors import UserInputError
from services.trainer.datasets import DatasetError, load_dataset


def _label_of(images: np.ndarray) -> np.ndarray:
    return np.rint(images[:, 0, 0, 0] * 255 / 20).astype(np.int64)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_train_and_test_keep_the_official_split(tmp_path, make, gz):
    folder = tmp_path / "mnist"
    train_y, test_y = make.balanced_labels(10), make.balanced_labels(3)
    make.write_idx_pair(folder, "train", make.digit_images(train_y), train_y, gz=gz)
    make.write_idx_pair(folder, "t10k", make.digit_images(test_y), test_y, gz=gz)

    data = load_dataset(DatasetName.MNIST, tmp_path, seed=1)

    assert data.modality is Modality.IMAGE
    assert (len(data.train), len(data.validation), len(data.test)) == (85, 15, 30)
    assert data.train.x.shape == (85, 28, 28, 1) and data.train.x.dtype == np.float32
    assert data.train.y.dtype == np.int64 and data.input_shape == (28, 28, 1)
    assert data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0
    assert data.class_names == [str(i) for i in range(10)] and data.num_classes == 10
    for split in (data.train, data.validation, data.test):
        assert np.array_equal(_label_of(split.x), split.y)  # images stay paired with their labels
    assert set(np.bincount(data.validation.y, minlength=10)) <= {1, 2}  # stratified
    assert "IDX" in data.source and "train + test" in data.source
    assert data.notes == []


def test_data_dir_may_be_the_dataset_folder_itself(tmp_path, make):
    y = make.balanced_labels(4)
    make.write_idx_pair(tmp_path / "mnist", "t10k", make.digit_images(y), y)
    data = load_dataset(DatasetName.MNIST, tmp_path / "mnist")
    assert len(data.train) + len(data.validation) + len(data.test) == 40


def test_labels_without_images_are_ignored_and_one_split_is_split_three_ways(tmp_path, make, caplog):
    folder = tmp_path / "mnist"
    test_y = make.balanced_labels(20)
    make.write_idx_pair(folder, "t10k", make.digit_images(test_y), test_y)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(make.idx_bytes(make.balanced_labels(50))))

    with caplog.at_level("INFO", logger="services.trainer.datasets.registry"):
        data = load_dataset(DatasetName.MNIST, tmp_path, seed=3)

    assert (len(data.train), len(data.validation), len(data.test)) == (140, 30, 30)
    assert "test split only" in data.source
    assert len(data.notes) == 1 and "only the test split" in data.notes[0] and "140/30/30" in data.notes[0]
    assert data.notes[0] in caplog.text
    assert np.bincount(data.test.y).tolist() == [3] * 10  # stratified


def test_kaggle_csv_is_read_with_its_header(tmp_path, make):
    labels = [i % 10 for i in range(40)]
    make.write_kaggle_csv(tmp_path / "fashion_mnist" / "fashion-mnist_test.csv", labels)
    data = load_dataset(DatasetName.FASHION_MNIST, tmp_path)
    assert data.class_names[0] == "T-shirt/top" and data.num_classes == 10
    assert data.train.x.shape[1:] == (28, 28, 1)
    assert np.array_equal(_label_of(data.train.x), data.train.y)
    assert "Kaggle CSV" in data.source


def test_the_source_with_more_images_wins(tmp_path, make):
    folder = tmp_path / "fashion_mnist"
    small = make.balanced_labels(2)
    make.write_idx_pair(folder, "t10k", make.digit_images(small), small)
    make.write_kaggle_csv(folder / "fashion-mnist_test.csv", [i % 10 for i in range(50)])
    assert "Kaggle CSV" in load_dataset(DatasetName.FASHION_MNIST, tmp_path).source


def test_missing_files_name_what_and_where(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset(DatasetName.MNIST, tmp_path)
    message = str(err.value)
    first, *hints = message.splitlines()
    assert (
        isinstance(err.value, UserInputError)
        and first == f"mnist: no data found in {tmp_path / 'mnist'} and {tmp_path}"
    )
    assert all(line.startswith("  ") for line in hints) and "IDX or Kaggle CSV" in message
    assert str(tmp_path / "mnist") in message and "train-images-idx3-ubyte" in message and "mnist_test.csv" in message
    assert "https://" in message


def test_truncated_gzip_names_the_file(tmp_path, make):
    y = make.balanced_labels(5)
    make.write_idx_pair(tmp_path, "t10k", make.digit_images(y), y)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: cannot read IDX file"):
        load_dataset(DatasetName.MNIST, tmp_path)


def test_truncated_raw_idx_names_the_file(tmp_path, make):
    y = make.balanced_labels(5)
    make.write_idx_pair(tmp_path, "t10k", make.digit_images(y), y, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte: IDX file is truncated"):
        load_dataset(DatasetName.MNIST, tmp_path)


def test_wrong_magic_number_names_the_file(tmp_path, make):
    y = make.balanced_labels(5)
    make.write_idx_pair(tmp_path, "t10k", make.digit_images(y), y, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + path.read_bytes()[4:])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte: wrong IDX magic number 0x00000801"):
        load_dataset(DatasetName.MNIST, tmp_path)


def test_image_and_label_counts_must_match(tmp_path, make):
    y = make.balanced_labels(5)
    make.write_idx_pair(tmp_path, "t10k", make.digit_images(y), y[:-1])
    with pytest.raises(DatasetError, match=r"50 images but t10k-labels-idx1-ubyte\.gz holds 49 labels"):
        load_dataset(DatasetName.MNIST, tmp_path)


def test_kaggle_csv_with_a_wrong_header_is_refused(tmp_path):
    (tmp_path / "mnist_test.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DatasetError, match="Kaggle-style header"):
        load_dataset(DatasetName.MNIST, tmp_path)
