"""Folders of images, one subfolder per class (``<root>/<class>/*.jpg|png|ppm|pgm|bmp``).

Used for the ``image_folder`` user dataset and for class-per-folder copies of built-ins (CIFAR JPEGs).

User folders: if ``data_dir`` holds ``train/`` and ``test/`` subfolders that are themselves class
trees, those are the splits; otherwise ``data_dir`` is one pool that gets split. Every image is
resized to the most common size when at least half of the images have it, otherwise (mixed sizes) to
32x32; a size whose larger side exceeds 128 is scaled down to fit 128, keeping the aspect ratio.
Images are kept grayscale (1 channel) when every image is grayscale, else all are converted to RGB.

Files that cannot be read as images are all collected in one pass: with ``on_bad_files=skip`` (the
default) they are left out and listed in a warning, with ``fail`` loading stops listing them.
Non-image files and class folders without images are counted in a note.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from contracts.study import BadFilePolicy
from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, images_to_float, labels_array

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp"})
MIXED_SIZE = (32, 32)
MAX_SIDE = 128
BAD_FILES_SHOWN = 20
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
"""What PIL raises for a file it cannot read as an image (truncated, corrupt, not an image, too large)."""

Box = tuple[int, int, int, int]


def is_image(path: Path) -> bool:
    """Whether ``path`` has an image extension this loader reads (hidden files are skipped)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_file() and is_image(Path(e.name)))


def _subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def class_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """``(class name, images)`` for every non-hidden subfolder of ``root`` that holds images, sorted."""
    return scan_tree(root).classes


def _has_image(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(e.is_file() and is_image(Path(e.name)) for e in entries)


def is_class_tree(root: Path) -> bool:
    """Whether some subfolder of ``root`` directly holds images."""
    try:
        return any(_has_image(p) for p in _subfolders(root))
    except OSError:
        return False


def count_images(root: Path) -> int:
    """How many images the class subfolders of ``root`` hold."""
    return sum(len(images) for _, images in class_folders(root))


# ---- one listing of a class tree ---------------------------------------------------------------


@dataclass(frozen=True)
class TreeScan:
    """What one listing of a class tree found: the image files per class folder, and what it left out."""

    root: Path
    classes: list[tuple[str, list[Path]]]
    empty: list[str] = field(default_factory=list)
    """Class folders holding no image file (names relative to ``root``)."""
    ignored: int = 0
    """Files in class folders that are not images (hidden files such as ``.DS_Store`` aside)."""


def scan_tree(root: Path) -> TreeScan:
    """List every class folder of ``root`` once."""
    classes: list[tuple[str, list[Path]]] = []
    empty: list[str] = []
    ignored = 0
    for sub in _subfolders(root):
        images: list[Path] = []
        with os.scandir(sub) as entries:
            for entry in entries:
                if not entry.is_file() or entry.name.startswith("."):
                    continue
                if is_image(Path(entry.name)):
                    images.append(Path(entry.path))
                else:
                    ignored += 1
        if images:
            classes.append((sub.name, sorted(images)))
        else:
            empty.append(sub.name)
    return TreeScan(root, classes, empty, ignored)


def left_out_note(what: str, scans: Sequence[TreeScan], base: Path) -> str | None:
    """``"<what>: ignored 3 non-image files; class folder 'x' is empty"``, or None when nothing was left out."""
    parts: list[str] = []
    ignored = sum(scan.ignored for scan in scans)
    if ignored:
        parts.append(f"ignored {ignored} non-image file{'s' if ignored != 1 else ''}")
    empty = [_relative(scan.root / name, base) for scan in scans for name in scan.empty]
    if len(empty) == 1:
        parts.append(f"class folder '{empty[0]}' is empty")
    elif empty:
        shown = ", ".join(f"'{name}'" for name in empty[:10])
        shown += f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        parts.append(f"class folders {shown} are empty")
    return f"{what}: {'; '.join(parts)}" if parts else None


# ---- reading images ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadFile:
    """A file that could not be read as an image, and why."""

    path: Path
    reason: str


def error_reason(error: BaseException, path: Path) -> str:
    """Why PIL could not read ``path``, without repeating the path."""
    text = str(error).replace(f"'{path}'", "").replace(str(path), "").strip().rstrip(":").strip()
    return text or type(error).__name__


def probe_image(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` from the file header; raises one of ``IMAGE_ERRORS``."""
    with Image.open(path) as img:
        return (int(img.size[0]), int(img.size[1])), str(img.mode)


def _decode(path: Path, size: tuple[int, int], channels: int, crop: Box | None) -> npt.NDArray[np.uint8]:
    with Image.open(path) as img:
        converted = img.convert("L" if channels == 1 else "RGB")
    if crop is not None:
        converted = converted.crop(crop)
    if converted.size != size:
        converted = converted.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(converted, dtype=np.uint8).reshape(size[1], size[0], channels)


def load_image(path: Path, size: tuple[int, int], channels: int, crop: Box | None = None) -> npt.NDArray[np.uint8]:
    """One image as uint8 (H, W, C): converted to RGB or grayscale, optionally cropped, resized to ``size`` (W, H)."""
    try:
        return _decode(path, size, channels, crop)
    except IMAGE_ERRORS as e:
        raise DatasetError(f"{path}: unreadable image ({error_reason(e, path)}); fix or remove the file") from e


def image_header(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` read from the file header only."""
    try:
        return probe_image(path)
    except IMAGE_ERRORS as e:
        raise DatasetError(f"{path}: unreadable image ({error_reason(e, path)}); fix or remove the file") from e


def load_images(
    paths: Sequence[Path], size: tuple[int, int], channels: int, crops: Sequence[Box | None] | None = None
) -> npt.NDArray[np.float32]:
    """Many images as float32 (N, H, W, C) in [0, 1]; the first unreadable one raises ``DatasetError``."""
    out = np.empty((len(paths), size[1], size[0], channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = load_image(path, size, channels, crops[i] if crops is not None else None)
    return images_to_float(out)


def read_images(
    paths: Sequence[Path], size: tuple[int, int], channels: int
) -> tuple[npt.NDArray[np.float32], list[int], list[BadFile]]:
    """Every readable image of ``paths`` as float32 (N, H, W, C), the indices of those read, and the rest."""
    out = np.empty((len(paths), size[1], size[0], channels), dtype=np.uint8)
    kept: list[int] = []
    bad: list[BadFile] = []
    for i, path in enumerate(paths):
        try:
            out[len(kept)] = _decode(path, size, channels, None)
        except IMAGE_ERRORS as e:
            bad.append(BadFile(path, error_reason(e, path)))
            continue
        kept.append(i)
    return images_to_float(out[: len(kept)]), kept, bad


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def bad_file_lines(bad: Sequence[BadFile], base: Path) -> list[str]:
    """``"  <path>: <why>"`` for the first ``BAD_FILES_SHOWN`` by path, then ``"  and N more"``."""
    ordered = sorted(bad, key=lambda b: str(b.path))
    lines = [f"  {_relative(b.path, base)}: {b.reason}" for b in ordered[:BAD_FILES_SHOWN]]
    if len(ordered) > BAD_FILES_SHOWN:
        lines.append(f"  and {len(ordered) - BAD_FILES_SHOWN} more")
    return lines


def settle_bad_files(what: str, bad: Sequence[BadFile], total: int, base: Path, policy: BadFilePolicy) -> str | None:
    """With ``fail``, raise ``DatasetError`` listing every unreadable file; with ``skip``, the warning listing them."""
    if not bad:
        return None
    n = len(bad)
    files = f"{n} of {total} image file{'s' if total != 1 else ''} in {base}"
    listing = bad_file_lines(bad, base)
    if policy is BadFilePolicy.FAIL:
        head = (
            f"{what}: {files} cannot be read (on_bad_files=fail); fix or remove them, "
            "or set on_bad_files=skip to train on the others:"
        )
        raise DatasetError("\n".join([head, *listing]))
    head = (
        f"{what}: skipped {files} that cannot be read, training on the others "
        "(on_bad_files=skip; on_bad_files=fail stops instead):"
    )
    return "\n".join([head, *listing])


# ---- class-per-folder copies of built-in datasets -----------------------------------------------


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
    dataset: str,
    directories: Sequence[Path],
    class_names: Sequence[str],
    size: tuple[int, int],
    channels: int,
    on_bad_files: BadFilePolicy = BadFilePolicy.SKIP,
) -> Source | None:
    """A class-per-folder copy of a built-in dataset (e.g. ``cifar10/test_jpg/<class>/*.jpg``)."""
    trees = split_trees(directories)
    if not trees:
        return None
    index = {name: i for i, name in enumerate(class_names)}
    count = sum(count_images(root) for root in trees.values())
    location = Path(os.path.commonpath([str(p) for p in trees.values()]))

    def load_tree(root: Path, bad: list[BadFile]) -> RawSplit:
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
        x, kept, unreadable = read_images(paths, size, channels)
        bad.extend(unreadable)
        return RawSplit(x, labels_array([labels[i] for i in kept]))

    def load() -> RawData:
        bad: list[BadFile] = []
        loaded = {split: load_tree(root, bad) for split, root in trees.items()}
        warning = settle_bad_files(dataset, bad, count, location, on_bad_files)
        return RawData(
            train=loaded.get("train"),
            test=loaded.get("test"),
            class_names=list(class_names),
            warnings=[warning] if warning else [],
        )

    return Source("image folders", location, count, tuple(s for s in ("train", "test") if s in trees), load)


# ---- the user's image folder ---------------------------------------------------------------------


def choose_size(sizes: Counter[tuple[int, int]]) -> tuple[int, int]:
    """The size every image is resized to (``(width, height)``), from the sizes seen."""
    (common, n), total = sizes.most_common(1)[0], sum(sizes.values())
    width, height = common if 2 * n >= total else MIXED_SIZE
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def choose_channels(modes: Sequence[str]) -> int:
    """1 when every image is grayscale, else 3 (RGB)."""
    return 1 if all(mode in GRAY_MODES for mode in modes) else 3


def user_trees(root: Path) -> dict[str, Path]:
    """``{"train": ..., "test": ...}`` when ``root`` holds both as class trees, else ``{"pool": ...}``."""
    trees = {s: root / s for s in ("train", "test") if (root / s).is_dir() and is_class_tree(root / s)}
    if len(trees) == 1:
        return {"pool": next(iter(trees.values()))}
    return trees or {"pool": root}


def _too_few_classes(root: Path, found: int) -> DatasetError:
    return DatasetError(
        f"image_folder: found {found} class folder(s) with images in {root}; put the images of each "
        "class in its own subfolder (at least 2 classes, .jpg/.png/.ppm/.pgm/.bmp)"
    )


def find_user_image_folder(root: Path, on_bad_files: BadFilePolicy = BadFilePolicy.SKIP) -> Source:
    """The ``image_folder`` dataset: ``root/<class>/*`` or ``root/{train,test}/<class>/*``."""
    if not root.is_dir():
        raise DatasetError(
            f"image_folder: {root} is not a folder; pass a folder holding one subfolder of images per class"
        )
    scans = {split: scan_tree(tree) for split, tree in user_trees(root).items()}
    class_names = sorted({name for scan in scans.values() for name, _ in scan.classes})
    if len(class_names) < 2:
        raise _too_few_classes(root, len(class_names))
    count = sum(len(images) for scan in scans.values() for _, images in scan.classes)

    def load() -> RawData:
        return _load_user_folder(root, scans, count, on_bad_files)

    splits = ("train", "test") if "train" in scans else ("all",)
    return Source("image folders", root, count, splits, load)


def _load_user_folder(root: Path, scans: dict[str, TreeScan], count: int, on_bad_files: BadFilePolicy) -> RawData:
    headers: dict[Path, tuple[tuple[int, int], str]] = {}
    bad: list[BadFile] = []
    for scan in scans.values():
        for _, images in scan.classes:
            for path in images:
                try:
                    headers[path] = probe_image(path)
                except IMAGE_ERRORS as e:
                    bad.append(BadFile(path, error_reason(e, path)))
    size = choose_size(Counter(s for s, _ in headers.values())) if headers else MIXED_SIZE
    channels = choose_channels([mode for _, mode in headers.values()])
    read: dict[str, tuple[npt.NDArray[np.float32], list[str]]] = {}
    for split, scan in scans.items():
        named = [(name, p) for name, images in scan.classes for p in images if p in headers]
        x, kept, unreadable = read_images([p for _, p in named], size, channels)
        bad.extend(unreadable)
        read[split] = (x, [named[i][0] for i in kept])
    warnings = [w for w in (settle_bad_files("image_folder", bad, count, root, on_bad_files),) if w]
    class_names = sorted({name for _, names in read.values() for name in names})
    if len(class_names) < 2:
        head = (
            f"image_folder: only {len(class_names)} class folder(s) in {root} hold an image that can be read; "
            "at least 2 classes are needed:"
        )
        raise DatasetError("\n".join([head, *bad_file_lines(bad, root)]))
    lost = sorted({name for scan in scans.values() for name, _ in scan.classes} - set(class_names))
    if lost:
        folders = ", ".join(f"'{name}'" for name in lost)
        warnings.append(f"image_folder: no image of class folder(s) {folders} can be read; those classes are left out")
    index = {name: i for i, name in enumerate(class_names)}
    loaded = {split: RawSplit(x, labels_array([index[n] for n in names])) for split, (x, names) in read.items()}
    kept_count = sum(len(split) for split in loaded.values())
    notes = [note for note in (left_out_note("image_folder", list(scans.values()), root),) if note]
    notes.append(f"image_folder: {kept_count} images resized to {size[0]}x{size[1]} with {channels} channel(s).")
    if "pool" in loaded:
        return RawData(train=loaded["pool"], test=None, class_names=class_names, notes=notes, warnings=warnings)
    return RawData(train=loaded["train"], test=loaded["test"], class_names=class_names, notes=notes, warnings=warnings)
