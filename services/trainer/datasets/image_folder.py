"""Folders of images, one subfolder per class (``<root>/<class>/*.jpg|png|ppm|pgm|bmp``).

Used for the ``image_folder`` user dataset and for class-per-folder copies of built-ins (CIFAR JPEGs).

User folders: if ``data_dir`` holds ``train/`` and ``test/`` subfolders that are themselves class
trees, those are the splits; otherwise ``data_dir`` is one pool that gets split. Every image is
resized to the most common size when at least half of the images have it, otherwise (mixed sizes) to
32x32; a size whose larger side exceeds 128 is scaled down to fit 128, keeping the aspect ratio.
Images are kept grayscale (1 channel) when every image is grayscale, else all are converted to RGB.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, images_to_float, labels_array

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp"})
MIXED_SIZE = (32, 32)
MAX_SIDE = 128
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})

Box = tuple[int, int, int, int]


def is_image(path: Path) -> bool:
    """Whether ``path`` has an image extension this loader reads (hidden files are skipped)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_file() and is_image(Path(e.name)))


def class_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """``(class name, images)`` for every non-hidden subfolder of ``root`` that holds images, sorted."""
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = list_images(sub)
        if images:
            found.append((sub.name, images))
    return found


def _has_image(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(e.is_file() and is_image(Path(e.name)) for e in entries)


def is_class_tree(root: Path) -> bool:
    """Whether some subfolder of ``root`` directly holds images."""
    try:
        return any(p.is_dir() and not p.name.startswith(".") and _has_image(p) for p in root.iterdir())
    except OSError:
        return False


def count_images(root: Path) -> int:
    """How many images the class subfolders of ``root`` hold."""
    return sum(len(images) for _, images in class_folders(root))


def load_image(path: Path, size: tuple[int, int], channels: int, crop: Box | None = None) -> npt.NDArray[np.uint8]:
    """One image as uint8 (H, W, C): converted to RGB or grayscale, optionally cropped, resized to ``size`` (W, H)."""
    try:
        with Image.open(path) as img:
            converted = img.convert("L" if channels == 1 else "RGB")
        if crop is not None:
            converted = converted.crop(crop)
        if converted.size != size:
            converted = converted.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(converted, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: unreadable image ({e}); fix or remove the file") from e
    return pixels.reshape(size[1], size[0], channels)


def image_header(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` read from the file header only."""
    try:
        with Image.open(path) as img:
            return (int(img.size[0]), int(img.size[1])), str(img.mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: unreadable image ({e}); fix or remove the file") from e


def load_images(
    paths: Sequence[Path], size: tuple[int, int], channels: int, crops: Sequence[Box | None] | None = None
) -> npt.NDArray[np.float32]:
    """Many images as float32 (N, H, W, C) in [0, 1]."""
    out = np.empty((len(paths), size[1], size[0], channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = load_image(path, size, channels, crops[i] if crops is not None else None)
    return images_to_float(out)


def split_trees(directories: Sequence[Path]) -> dict[str, Path]:
    """Class trees whose folder name says ``train`` or ``test`` (the folders themselves or their subfolders).

    When several trees claim one split, the one with the most images wins.
    """
    best: dict[str, tuple[int, Path]] = {}
    for directory in directories:
        candidates = [directory, *sorted(p for p in directory.iterdir() if p.is_dir())]
        for candidate in candidates:
            lowered = candidate.name.lower()
            split = "train" if "train" in lowered else "test" if "test" in lowered else None
            if split is None or not is_class_tree(candidate):
                continue
            n = count_images(candidate)
            if split not in best or n > best[split][0]:
                best[split] = (n, candidate)
    return {split: path for split, (_, path) in best.items()}


def find_builtin_folders(
    dataset: str, directories: Sequence[Path], class_names: Sequence[str], size: tuple[int, int], channels: int
) -> Source | None:
    """A class-per-folder copy of a built-in dataset (e.g. ``cifar10/test_jpg/<class>/*.jpg``)."""
    trees = split_trees(directories)
    if not trees:
        return None
    index = {name: i for i, name in enumerate(class_names)}
    count = sum(count_images(root) for root in trees.values())

    def load_tree(root: Path) -> RawSplit:
        paths: list[Path] = []
        labels: list[int] = []
        for name, images in class_folders(root):
            if name not in index:
                raise DatasetError(
                    f"{root / name}: '{name}' is not a {dataset} class; class folders must be named "
                    f"{', '.join(class_names[:4])}, ..."
                )
            paths.extend(images)
            labels.extend([index[name]] * len(images))
        return RawSplit(load_images(paths, size, channels), labels_array(labels))

    def load() -> RawData:
        loaded = {split: load_tree(root) for split, root in trees.items()}
        return RawData(train=loaded.get("train"), test=loaded.get("test"), class_names=list(class_names))

    location = Path(os.path.commonpath([str(p) for p in trees.values()]))
    return Source("image folders", location, count, tuple(s for s in ("train", "test") if s in trees), load)


def _choose_size(sizes: Counter[tuple[int, int]]) -> tuple[int, int]:
    (common, n), total = sizes.most_common(1)[0], sum(sizes.values())
    width, height = common if 2 * n >= total else MIXED_SIZE
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def find_user_image_folder(root: Path) -> Source:
    """The ``image_folder`` dataset: ``root/<class>/*`` or ``root/{train,test}/<class>/*``."""
    if not root.is_dir():
        raise DatasetError(
            f"image_folder: {root} is not a folder; pass a folder holding one subfolder of images per class"
        )
    trees = {s: root / s for s in ("train", "test") if (root / s).is_dir() and is_class_tree(root / s)}
    if len(trees) == 1:
        trees = {"pool": next(iter(trees.values()))}
    elif not trees:
        trees = {"pool": root}
    per_split = {split: class_folders(tree) for split, tree in trees.items()}
    class_names = sorted({name for folders in per_split.values() for name, _ in folders})
    if len(class_names) < 2:
        raise DatasetError(
            f"image_folder: found {len(class_names)} class folder(s) with images in {root}; put the images of each "
            "class in its own subfolder (at least 2 classes, .jpg/.png/.ppm/.pgm/.bmp)"
        )
    count = sum(len(images) for folders in per_split.values() for _, images in folders)

    def load() -> RawData:
        headers = [image_header(p) for folders in per_split.values() for _, images in folders for p in images]
        size = _choose_size(Counter(s for s, _ in headers))
        channels = 1 if all(mode in _GRAY_MODES for _, mode in headers) else 3
        index = {name: i for i, name in enumerate(class_names)}
        loaded: dict[str, RawSplit] = {}
        for split, folders in per_split.items():
            paths = [p for _, images in folders for p in images]
            labels = [index[name] for name, images in folders for _ in images]
            loaded[split] = RawSplit(load_images(paths, size, channels), labels_array(labels))
        notes = [f"image_folder: {count} images resized to {size[0]}x{size[1]} with {channels} channel(s)."]
        if "pool" in loaded:
            return RawData(train=loaded["pool"], test=None, class_names=class_names, notes=notes)
        return RawData(train=loaded["train"], test=loaded["test"], class_names=class_names, notes=notes)

    splits = ("train", "test") if "train" in trees else ("all",)
    return Source("image folders", root, count, splits, load)
