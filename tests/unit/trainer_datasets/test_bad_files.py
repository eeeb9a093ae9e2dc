"""Image folders with unreadable files: one pass lists them all; skipped (with a warning) or refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contracts.enums import DatasetName
from contracts.study import BadFilePolicy
from services.trainer.datasets import DatasetError, LoadOptions, load_dataset
from services.trainer.datasets.catalog import CIFAR10_NAMES

FAIL = LoadOptions(on_bad_files=BadFilePolicy.FAIL)


def _noise_jpeg(size: tuple[int, int] = (24, 24)) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _folder_with_three_bad_files(root: Path, make) -> list[str]:
    for cls in ("cats", "dogs"):
        for i in range(5):
            make.write_image(root / cls / f"{i}.png", (16, 12))
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG garbage")  # not an image at all
    (root / "dogs" / "empty.jpg").write_bytes(b"")
    whole = _noise_jpeg()
    (root / "dogs" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])  # its header reads fine
    return ["cats/broken.png", "dogs/empty.jpg", "dogs/truncated.jpg"]


def test_every_unreadable_image_is_listed_and_skipped_by_default(tmp_path, make):
    bad = _folder_with_three_bad_files(tmp_path, make)

    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)

    assert len(data.train) + len(data.validation) + len(data.test) == 10
    assert data.class_names == ["cats", "dogs"]
    (warning,) = data.warnings
    head, *listed = warning.splitlines()
    assert head.startswith("image_folder: skipped 3 of 13 image files in ") and "on_bad_files=fail" in head
    assert [line.split(":")[0].strip() for line in listed] == bad
    assert "truncated" in listed[2]
    assert any("10 images resized to 16x12" in note for note in data.notes)


def test_on_bad_files_fail_refuses_the_folder_listing_every_file(tmp_path, make):
    bad = _folder_with_three_bad_files(tmp_path, make)

    with pytest.raises(DatasetError) as caught:
        load_dataset(DatasetName.IMAGE_FOLDER, tmp_path, options=FAIL)

    message = str(caught.value)
    first = message.splitlines()[0]
    assert "3 of 13 image files" in first and "cannot be read (on_bad_files=fail)" in first
    assert "fix or remove them, or set on_bad_files=skip" in first
    assert all(name in message for name in bad)


def test_more_than_twenty_bad_files_show_twenty_then_a_count(tmp_path, make):
    for cls in ("a", "b"):
        for i in range(3):
            make.write_image(tmp_path / cls / f"good{i}.png", (8, 8))
        for i in range(13):
            (tmp_path / cls / f"bad{i:02d}.png").write_bytes(b"nope")

    with pytest.raises(DatasetError) as caught:
        load_dataset(DatasetName.IMAGE_FOLDER, tmp_path, options=FAIL)

    lines = str(caught.value).splitlines()
    assert "26 of 32 image files" in lines[0]
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "  and 6 more"
    assert lines[1].startswith("  a/bad00.png") and lines[20].startswith("  b/bad06.png")  # by path


def test_non_image_files_and_empty_class_folders_are_counted(tmp_path, make):
    for cls in ("a", "b"):
        for i in range(4):
            make.write_image(tmp_path / cls / f"{i}.png", (8, 8))
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "labels.csv").write_text("x")
    (tmp_path / "b" / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "b" / ".DS_Store").write_bytes(b"x")  # hidden: not counted
    (tmp_path / "x").mkdir()

    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)

    assert "image_folder: ignored 3 non-image files; class folder 'x' is empty" in data.notes
    assert data.warnings == [] and data.class_names == ["a", "b"]


def test_a_class_whose_every_image_is_unreadable_is_left_out(tmp_path, make):
    for cls in ("a", "b"):
        for i in range(4):
            make.write_image(tmp_path / cls / f"{i}.png", (8, 8))
    for i in range(2):
        (tmp_path / "c" / f"{i}.png").parent.mkdir(exist_ok=True)
        (tmp_path / "c" / f"{i}.png").write_bytes(b"nope")

    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)

    assert data.class_names == ["a", "b"]
    assert any("class folder(s) 'c' can be read" in w for w in data.warnings)


def test_too_few_readable_classes_is_refused_with_the_list(tmp_path, make):
    for i in range(4):
        make.write_image(tmp_path / "a" / f"{i}.png", (8, 8))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "0.png").write_bytes(b"nope")

    with pytest.raises(DatasetError, match=r"only 1 class folder\(s\) .* hold an image that can be read") as caught:
        load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    assert "b/0.png" in str(caught.value)


def test_train_and_test_trees_skip_bad_files_in_both(tmp_path, make):
    for split, n in (("train", 6), ("test", 3)):
        for cls in ("x", "y"):
            for i in range(n):
                make.write_image(tmp_path / split / cls / f"{i}.png", (8, 8))
    (tmp_path / "train" / "x" / "bad.png").write_bytes(b"nope")
    (tmp_path / "test" / "y" / "bad.png").write_bytes(b"nope")

    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)

    assert (len(data.train) + len(data.validation), len(data.test)) == (12, 6)
    assert "train/x/bad.png" in data.warnings[0] and "test/y/bad.png" in data.warnings[0]


def test_cifar_class_folders_skip_unreadable_images_too(tmp_path, make):
    for name in CIFAR10_NAMES:
        for i in range(2):
            make.write_image(tmp_path / "cifar10" / "test" / name / f"{i}.png", (32, 32))
    (tmp_path / "cifar10" / "test" / "cat" / "bad.png").write_bytes(b"nope")

    data = load_dataset(DatasetName.CIFAR10, tmp_path)
    assert len(data.train) + len(data.validation) + len(data.test) == 20
    assert "cat/bad.png" in data.warnings[0]

    with pytest.raises(DatasetError, match=r"cifar10: 1 of 21 image files .* cannot be read"):
        load_dataset(DatasetName.CIFAR10, tmp_path, options=FAIL)


def test_note_lines_put_warnings_first_one_line_each(tmp_path, make):
    _folder_with_three_bad_files(tmp_path, make)
    data = load_dataset(DatasetName.IMAGE_FOLDER, tmp_path)
    lines = data.note_lines()
    assert lines[0].startswith("image_folder: skipped 3")
    assert lines[1:4] == [line for line in data.warnings[0].splitlines()[1:]]
    assert all("\n" not in line for line in lines) and lines[-1] == data.notes[-1]
