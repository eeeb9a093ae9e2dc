"""CIFAR pickles, class-per-folder images (built-in and user data) and the GTSRB layout."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from contracts.enums import DatasetName
from contracts.study import BadFilePolicy
from services.trainer.datasets import DatasetError, LoadOptions, load_dataset
from services.trainer.datasets.catalog import CIFAR10_NAMES, CIFAR100_NAMES, GTSRB_NAMES


def _cifar10(tmp_path, make, as_list=False):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    for i in range(1, 6):
        labels = [j % 10 for j in range(10 * i, 10 * i + 10)]
        make.write_cifar_batch(folder / f"data_batch_{i}", labels, as_list=as_list)
    make.write_cifar_batch(folder / "test_batch", list(range(10)) * 2, as_list=as_list)
    return folder


@pytest.mark.parametrize("as_list", [False, True])
def test_cifar10_pickles(tmp_path, make, as_list):
    _cifar10(tmp_path, make, as_list)
    data = load_dataset(DatasetName.CIFAR10, tmp_path, seed=0)
    assert (len(data.train), len(data.validation), len(data.test)) == (42, 8, 20)
    assert data.train.x.shape == (42, 32, 32, 3) and data.train.x.dtype == np.float32
    assert data.class_names == list(CIFAR10_NAMES) and data.input_shape == (32, 32, 3)
    # channel-major records become HWC: red (0, 0) holds the label, green is 100 everywhere
    assert np.array_equal(np.rint(data.test.x[:, 0, 0, 0] * 255).astype(int), data.test.y)
    assert np.allclose(data.test.x[:, :, :, 1], 100 / 255)
    assert "CIFAR pickles" in data.source


def test_cifar10_class_names_come_from_batches_meta(tmp_path, make):
    folder = _cifar10(tmp_path, make)
    names = [f"c{i}".encode() for i in range(10)]
    with (folder / "batches.meta").open("wb") as f:
        pickle.dump({b"label_names": names}, f, protocol=2)
    assert load_dataset(DatasetName.CIFAR10, tmp_path).class_names == [f"c{i}" for i in range(10)]


def test_cifar100_uses_fine_labels_and_all_100_names(tmp_path, make):
    folder = tmp_path / "cifar-100-python"
    make.write_cifar_batch(folder / "train", [0, 5, 99, 50, 7, 8], label_key="fine_labels")
    make.write_cifar_batch(folder / "test", [1, 2, 3], label_key="fine_labels")
    data = load_dataset(DatasetName.CIFAR100, tmp_path)
    assert data.num_classes == 100 and data.class_names == list(CIFAR100_NAMES)
    assert "trout" in data.class_names and data.class_names == sorted(data.class_names)
    assert (len(data.train), len(data.validation), len(data.test)) == (5, 1, 3)


def test_bad_pickle_names_the_file(tmp_path, make):
    folder = _cifar10(tmp_path, make)
    (folder / "data_batch_3").write_bytes(b"not a pickle at all")
    with pytest.raises(DatasetError, match=r"data_batch_3: not a readable pickle"):
        load_dataset(DatasetName.CIFAR10, tmp_path)


def test_pickles_cannot_run_code(tmp_path, make):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    folder = _cifar10(tmp_path, make)
    with (folder / "test_batch").open("wb") as f:
        pickle.dump({b"data": Evil()}, f)
    with pytest.raises(DatasetError, match="refusing to load"):
        load_dataset(DatasetName.CIFAR10, tmp_path)


def test_cifar_image_folders_win_when_they_hold_more_images(tmp_path, make):
    make.write_cifar_batch(tmp_path / "cifar10" / "cifar-10-batches-py" / "test_batch", [0, 1])
    for name in CIFAR10_NAMES[:3]:
        for i in range(10):
            make.write_image(tmp_path / "cifar10" / "test_jpg" / name / f"{i:04d}.jpg", (32, 32), (200, 10, 10))
    data = load_dataset(DatasetName.CIFAR10, tmp_path)
    assert "image folders" in data.source and "test split only" in data.source
    assert data.num_classes == 10 and set(np.unique(data.train.y)) == {0, 1, 2}
    assert data.train.x.shape[1:] == (32, 32, 3)
    assert len(data.notes) == 1 and "only the test split" in data.notes[0]


def test_unknown_class_folder_for_a_builtin_is_refused(tmp_path, make):
    make.write_image(tmp_path / "cifar10" / "train" / "spaceship" / "a.png", (32, 32))
    with pytest.raises(DatasetError, match="'spaceship' is not a cifar10 class"):
        load_dataset(DatasetName.CIFAR10, tmp_path)


def test_user_image_folder_mixed_sizes_become_32x32_rgb(tmp_path, make):
    for cls in ("cats", "dogs"):
        for i in range(6):
            make.write_image(tmp_path / cls / f"{i}.png", (20 + i * 7, 30), (i * 10, 0, 0))
    make.write_image(tmp_path / "dogs" / "gray.bmp", (40, 40), 77, mode="L")
    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    assert data.class_names == ["cats", "dogs"] and data.input_shape == (32, 32, 3)
    assert len(data.train) + len(data.validation) + len(data.test) == 13
    assert "no separate test split" in data.notes[-1]


def test_user_image_folder_keeps_the_common_size_and_grayscale(tmp_path, make):
    for cls in ("a", "b", "c"):
        for i in range(5):
            make.write_image(tmp_path / cls / f"{i}.pgm", (10, 6), 50, mode="L")
    make.write_image(tmp_path / "a" / "odd.pgm", (9, 9), 50, mode="L")
    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    assert data.input_shape == (6, 10, 1)
    assert np.allclose(data.train.x, 50 / 255, atol=0.01)


def test_user_image_folder_with_train_and_test(tmp_path, make):
    for split, n in (("train", 8), ("test", 3)):
        for cls in ("x", "y"):
            for i in range(n):
                make.write_image(tmp_path / split / cls / f"{i}.jpg", (8, 8))
    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    assert (len(data.train), len(data.validation), len(data.test)) == (14, 2, 6)
    assert not any("split into" in n for n in data.notes)


def test_empty_image_folder_is_refused(tmp_path):
    (tmp_path / "only_empty_class").mkdir()
    with pytest.raises(DatasetError, match=r"image_folder: found 0 class folder\(s\) with images"):
        load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)


def test_unreadable_image_names_the_file(tmp_path, make):
    for cls in ("a", "b"):
        for i in range(3):
            make.write_image(tmp_path / cls / f"{i}.png", (8, 8))
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG garbage")
    strict = LoadOptions(on_bad_files=BadFilePolicy.FAIL)
    with pytest.raises(DatasetError, match=r"1 of 7 image files .* cannot be read(.|\n)*b/broken\.png: cannot"):
        load_dataset(DatasetName.IMAGE_FOLDER, tmp_path, options=strict)
    assert "b/broken.png" in load_dataset(DatasetName.IMAGE_FOLDER, tmp_path).warnings[0]  # skipped by default


def _gtsrb_train(root, make, class_id, n, size, csv_size):
    folder = root / "Final_Training" / "Images" / f"{class_id:05d}"
    lines = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i in range(n):
        name = f"00000_{i:05d}.ppm"
        image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        image[:, :] = (0, 0, 255)  # blue border
        image[5:-5, 5:-5] = (255, 0, 0)  # red sign inside the ROI
        folder.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(image).save(folder / name)
        w, h = csv_size
        lines.append(f"{name};{w};{h};5;5;{w - 6};{h - 6};{class_id}")
    lines.append(f"missing.ppm;50;50;5;5;44;44;{class_id}")  # rows whose file is absent are skipped
    (folder / f"GT-{class_id:05d}.csv").write_text("\n".join(lines) + "\n")


def test_gtsrb_crops_when_the_csv_size_matches_and_labels_test_from_csv(tmp_path, make):
    root = tmp_path / "gtsrb"
    _gtsrb_train(root, make, 0, 6, (40, 44), (40, 44))  # real size: crop to the red sign
    _gtsrb_train(root, make, 14, 6, (32, 32), (60, 61))  # already resized: keep the whole image
    test_dir = root / "Final_Test" / "Images"
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i, cls in enumerate([0, 14, 14]):
        make.write_image(test_dir / f"{i:05d}.ppm", (32, 32), (0, 255, 0))
        rows.append(f"{i:05d}.ppm;50;50;5;5;44;44;{cls}")
    make.write_image(test_dir / "00009.ppm", (32, 32))  # no CSV row: skipped
    (root / "Final_Test" / "GT-final_test.csv").write_text("\n".join(rows) + "\n")

    data = load_dataset(DatasetName.GTSRB, tmp_path)

    assert data.class_names == list(GTSRB_NAMES) and data.num_classes == 43
    assert data.input_shape == (32, 32, 3)
    assert (len(data.train) + len(data.validation), len(data.test)) == (12, 3)
    pool_x = np.concatenate([data.train.x, data.validation.x])
    pool_y = np.concatenate([data.train.y, data.validation.y])
    cropped, whole = pool_x[pool_y == 0], pool_x[pool_y == 14]
    assert cropped[:, :, :, 2].max() < 0.2  # no blue border left
    assert whole[:, 0, 0, 2].min() > 0.9  # blue border kept
    assert sorted(data.test.y.tolist()) == [0, 14, 14]


def test_gtsrb_bad_csv_is_reported(tmp_path, make):
    folder = tmp_path / "Final_Training" / "Images" / "00001"
    make.write_image(folder / "a.ppm", (32, 32))
    (folder / "GT-00001.csv").write_text("Filename;Size\na.ppm;3\n")
    with pytest.raises(DatasetError, match=r"GT-00001\.csv: not a GTSRB annotation CSV"):
        load_dataset(DatasetName.GTSRB, tmp_path)


def test_user_image_folder_with_only_a_train_folder_uses_it_as_the_pool(tmp_path, make):
    for cls in ("x", "y"):
        for i in range(5):
            make.write_image(tmp_path / "train" / cls / f"{i}.png", (8, 8))
    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    assert data.class_names == ["x", "y"]
    assert len(data.train) + len(data.validation) + len(data.test) == 10
