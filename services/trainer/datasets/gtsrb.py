"""GTSRB in its original folder layout, resized to 32x32 RGB.

Training: ``Final_Training/Images/<5-digit class>/*.ppm`` with a per-class ``GT-<class>.csv``
(``;``-separated: Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId). The folder gives the
label. Test: ``Final_Test/Images/*.ppm`` labelled by ``GT-final_test.csv`` (next to ``Images``,
inside it, or in the dataset folder); test images without a labelled row are skipped.

Each image is cropped to its ROI box (inclusive corners) only when the CSV's Width/Height equal the
image's real size: copies that were already resized (like the shared sample) keep the whole image.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.image_folder import Box, image_header, is_image, list_images, load_images
from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array

SIZE = (32, 32)
TEST_CSV = "GT-final_test.csv"


@dataclass(frozen=True)
class _Row:
    width: int
    height: int
    roi: Box
    class_id: int | None


def read_annotations(path: Path) -> dict[str, _Row]:
    """``Filename -> row`` from a GTSRB annotation CSV."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.DictReader(f, delimiter=";")
            rows: dict[str, _Row] = {}
            for line in reader:
                class_id = line.get("ClassId")
                rows[line["Filename"]] = _Row(
                    width=int(line["Width"]),
                    height=int(line["Height"]),
                    roi=(int(line["Roi.X1"]), int(line["Roi.Y1"]), int(line["Roi.X2"]), int(line["Roi.Y2"])),
                    class_id=int(class_id) if class_id not in (None, "") else None,
                )
    except (KeyError, ValueError, TypeError) as e:
        raise DatasetError(
            f"{path}: not a GTSRB annotation CSV (needs ';'-separated Filename;Width;Height;Roi.X1;Roi.Y1;"
            f"Roi.X2;Roi.Y2[;ClassId], problem: {e})"
        ) from e
    return rows


def _crop(path: Path, row: _Row | None) -> Box | None:
    if row is None:
        return None
    (width, height), _ = image_header(path)
    if (width, height) != (row.width, row.height):
        return None
    x1, y1, x2, y2 = row.roi
    return max(0, x1), max(0, y1), min(width, x2 + 1), min(height, y2 + 1)


def _training(images_dir: Path, num_classes: int) -> tuple[list[Path], list[int], list[Box | None]]:
    paths: list[Path] = []
    labels: list[int] = []
    crops: list[Box | None] = []
    for folder in sorted(p for p in images_dir.iterdir() if p.is_dir() and p.name.isdigit()):
        label = int(folder.name)
        if label >= num_classes:
            raise DatasetError(f"{folder}: class folder {label} is out of range 0..{num_classes - 1}")
        csv_path = folder / f"GT-{folder.name}.csv"
        rows = read_annotations(csv_path) if csv_path.is_file() else {}
        for image in list_images(folder):
            paths.append(image)
            labels.append(label)
            crops.append(_crop(image, rows.get(image.name)))
    return paths, labels, crops


def _test(images_dir: Path, csv_path: Path, num_classes: int) -> tuple[list[Path], list[int], list[Box | None]]:
    rows = read_annotations(csv_path)
    paths: list[Path] = []
    labels: list[int] = []
    crops: list[Box | None] = []
    for image in list_images(images_dir):
        row = rows.get(image.name)
        if row is None or row.class_id is None:
            continue
        if not 0 <= row.class_id < num_classes:
            raise DatasetError(f"{csv_path}: ClassId {row.class_id} for {image.name} is out of range")
        paths.append(image)
        labels.append(row.class_id)
        crops.append(_crop(image, row))
    return paths, labels, crops


def _test_csv(root: Path, test_images: Path) -> Path | None:
    for candidate in (test_images.parent / TEST_CSV, test_images / TEST_CSV, root / TEST_CSV, root.parent / TEST_CSV):
        if candidate.is_file():
            with candidate.open(encoding="utf-8", errors="replace") as f:
                if "ClassId" in f.readline():
                    return candidate
    return None


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if is_image(p))


def find_gtsrb(directories: Sequence[Path], num_classes: int) -> Source | None:
    """The GTSRB folder with the most images among ``directories``."""
    best: Source | None = None
    for root in directories:
        train_dir = root / "Final_Training" / "Images"
        test_dir = root / "Final_Test" / "Images"
        has_train = train_dir.is_dir()
        test_csv = _test_csv(root, test_dir) if test_dir.is_dir() else None
        if not has_train and test_csv is None:
            continue
        count = (_count(train_dir) if has_train else 0) + (_count(test_dir) if test_csv is not None else 0)
        splits = tuple(s for s, ok in (("train", has_train), ("test", test_csv is not None)) if ok)
        source = Source("GTSRB folders", root, count, splits, _loader(train_dir, test_dir, test_csv, num_classes))
        if best is None or source.num_samples > best.num_samples:
            best = source
    return best


def _loader(train_dir: Path, test_dir: Path, test_csv: Path | None, num_classes: int) -> Callable[[], RawData]:
    def load() -> RawData:
        train = test = None
        if train_dir.is_dir():
            paths, labels, crops = _training(train_dir, num_classes)
            if paths:
                train = RawSplit(load_images(paths, SIZE, 3, crops), labels_array(labels))
        if test_csv is not None:
            paths, labels, crops = _test(test_dir, test_csv, num_classes)
            if paths:
                test = RawSplit(load_images(paths, SIZE, 3, crops), labels_array(labels))
        if train is None and test is None:
            raise DatasetError(f"gtsrb: no labelled images in {train_dir} or {test_dir}")
        return RawData(train=train, test=test, class_names=[])

    return load
