"""``describe_user_data``: what ``hpo datasets --data-dir`` says about a user image folder or CSV."""

from __future__ import annotations

from contracts.enums import DatasetName
from services.trainer.datasets import LoadOptions
from services.trainer.datasets.user_data import describe_user_data


def test_an_image_folder_is_described_with_classes_sizes_channels_and_bad_files(tmp_path, make):
    for i in range(4):
        make.write_image(tmp_path / "cats" / f"{i}.png", (16, 12))
    for i in range(2):
        make.write_image(tmp_path / "dogs" / f"{i}.pgm", (40, 40), 9, mode="L")
    (tmp_path / "dogs" / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    (tmp_path / "dogs" / "readme.txt").write_text("x")
    (tmp_path / "birds").mkdir()

    described = describe_user_data(tmp_path)

    assert described is not None and described.dataset is DatasetName.IMAGE_FOLDER and described.problem is None
    text = "\n".join(described.lines)
    assert f"image_folder: {tmp_path} (one pool)" in text
    assert "2 classes, 7 image files, 6 readable:" in text
    assert "    cats      4" in text and "    dogs      3" in text
    assert "image sizes: 16x12 (4 images), 40x40 (2 images)" in text
    assert "channels: 3 RGB (4 images), 1 L (2 images)" in text
    assert "ignored 1 non-image file; class folder 'birds' is empty" in text
    assert "1 unreadable image file (a study skips them by default" in text and "    dogs/bad.jpg: " in text
    assert "a study trains on 16x12 images with 3 channel(s)" in text


def test_train_and_test_trees_show_counts_per_split(tmp_path, make):
    for split, n in (("train", 3), ("test", 1)):
        for cls in ("x", "y"):
            for i in range(n):
                make.write_image(tmp_path / split / cls / f"{i}.png", (8, 8))
    described = describe_user_data(tmp_path)
    assert described is not None
    assert "(train + test)" in described.lines[0]
    assert "    x      4 (train 3, test 1)" in described.lines


def test_a_folder_without_readable_classes_names_the_problem(tmp_path, make):
    make.write_image(tmp_path / "only" / "0.png", (8, 8))
    described = describe_user_data(tmp_path)
    assert described is not None and described.problem is not None
    assert "1 class folder(s) with readable images" in described.problem


def test_a_csv_is_described_with_rows_labels_and_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = ["id,Review,stars"] + [f'{i},"good\nfilm {i}",{1 + i % 3}' for i in range(9)] + [",,", "9,,2"]
    path.write_text("\n".join(rows) + "\n")

    described = describe_user_data(path, LoadOptions(text_column="review", label_column="stars"))

    assert described is not None and described.dataset is DatasetName.TEXT_CSV and described.problem is None
    assert described.lines == [
        f"text_csv: {path}",
        "  header: 'id', 'Review', 'stars'; text from 'review', label from 'stars'",
        "  11 rows: 9 used, 2 dropped as empty (1 blank, 1 without text)",
        "  3 classes: 1 (3 rows), 2 (3 rows), 3 (3 rows)",
        "  words per text: 3-3 (median 3)",
    ]


def test_a_csv_without_the_columns_is_described_with_the_problem(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("review,stars\nnice,1\n")
    described = describe_user_data(path)
    assert described is not None and described.problem is not None
    assert "needs a header row with 'text' and 'label' columns" in described.problem


def test_built_in_data_folders_are_not_user_data(tmp_path, make):
    make.write_kaggle_csv(tmp_path / "fashion-mnist_test.csv", [0, 1])  # a folder's only CSV, no text column
    (tmp_path / "mnist").mkdir()
    assert describe_user_data(tmp_path) is None
    assert describe_user_data(tmp_path / "missing") is None
