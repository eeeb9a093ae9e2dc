"""What ``hpo datasets --data-dir`` says about a user dataset: a folder of class folders of images, or a CSV.

Unlike loading, describing reads every image in full (not just its header), so that every file a
study would skip is listed, and nothing is resized or kept in memory.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from contracts.enums import DatasetName
from services.trainer.datasets.base import LoadOptions
from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.image_folder import (
    IMAGE_ERRORS,
    BadFile,
    TreeScan,
    bad_file_lines,
    choose_channels,
    choose_size,
    error_reason,
    is_class_tree,
    left_out_note,
    scan_tree,
    user_trees,
)
from services.trainer.datasets.text_csv import csv_files, label_sort_key, read_csv_table
from services.trainer.datasets.vocabulary import tokenize

CLASSES_SHOWN = 50
SIZES_SHOWN = 5


@dataclass(frozen=True)
class UserDataDescription:
    """A user dataset found at ``location``: a few lines for a person, and what stops it loading, if anything."""

    dataset: DatasetName
    location: Path
    lines: list[str] = field(default_factory=list)
    problem: str | None = None


def describe_user_data(path: Path, options: LoadOptions | None = None) -> UserDataDescription | None:
    """``path`` described as an ``image_folder`` or ``text_csv`` dataset; None when it looks like neither."""
    opts = options or LoadOptions()
    if path.is_file():
        return describe_csv(path, opts) if path.suffix.lower() == ".csv" else None
    if not path.is_dir():
        return None
    if any(is_class_tree(tree) for tree in user_trees(path).values()):
        return describe_image_folder(path)
    found = csv_files(path)
    if len(found) != 1:
        return None
    described = describe_csv(found[0], opts)  # a folder's only CSV counts when it has the columns
    return None if described.problem and "needs a header row" in described.problem else described


def _counted(counts: Counter[str], limit: int) -> str:
    shown = [f"{value} ({n} image{'s' if n != 1 else ''})" for value, n in counts.most_common(limit)]
    more = len(counts) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def describe_image_folder(root: Path) -> UserDataDescription:
    """Classes, images per class, image sizes and channels seen, and every file that cannot be read."""
    scans = {split: scan_tree(tree) for split, tree in user_trees(root).items()}
    per_class: dict[str, dict[str, int]] = defaultdict(dict)
    sizes: Counter[tuple[int, int]] = Counter()
    modes: list[str] = []
    channels: Counter[str] = Counter()
    bad: list[BadFile] = []
    total = 0
    for split, scan in scans.items():
        for name, images in scan.classes:
            per_class[name][split] = len(images)
            total += len(images)
            for path in images:
                try:
                    with Image.open(path) as img:
                        size, mode, bands = (int(img.size[0]), int(img.size[1])), str(img.mode), len(img.getbands())
                        img.load()
                except IMAGE_ERRORS as e:
                    bad.append(BadFile(path, error_reason(e, path)))
                    continue
                sizes[size] += 1
                modes.append(mode)
                channels[f"{bands} {mode}"] += 1
    layout = "train + test" if "train" in scans else "one pool"
    lines = [f"image_folder: {root} ({layout})"]
    lines.append(f"  {len(per_class)} classes, {total} image files, {total - len(bad)} readable:")
    width = max((len(name) for name in per_class), default=0)
    for name in sorted(per_class)[:CLASSES_SHOWN]:
        splits = per_class[name]
        detail = f" ({', '.join(f'{s} {n}' for s, n in splits.items())})" if len(scans) > 1 else ""
        lines.append(f"    {name:<{width}} {sum(splits.values()):>6}{detail}")
    if len(per_class) > CLASSES_SHOWN:
        lines.append(f"    and {len(per_class) - CLASSES_SHOWN} more classes")
    if sizes:
        lines.append(f"  image sizes: {_counted(Counter({f'{w}x{h}': n for (w, h), n in sizes.items()}), SIZES_SHOWN)}")
        lines.append(f"  channels: {_counted(channels, SIZES_SHOWN)}")
    left_out = left_out_note("image_folder", list(scans.values()), root)
    if left_out:
        lines.append("  " + left_out.removeprefix("image_folder: "))
    if bad:
        lines.append(
            f"  {len(bad)} unreadable image file{'s' if len(bad) != 1 else ''} (a study skips them by default; "
            "on_bad_files=fail refuses the folder instead):"
        )
        lines += ["  " + line for line in bad_file_lines(bad, root)]
    problem = None
    readable_classes = _classes_with_readable(scans, bad)
    if readable_classes < 2:
        problem = f"image_folder: {readable_classes} class folder(s) with readable images in {root}; need at least 2"
    elif sizes:
        width_, height = choose_size(sizes)
        lines.append(f"  a study trains on {width_}x{height} images with {choose_channels(modes)} channel(s)")
    return UserDataDescription(DatasetName.IMAGE_FOLDER, root, lines, problem)


def _classes_with_readable(scans: dict[str, TreeScan], bad: list[BadFile]) -> int:
    unreadable = {b.path for b in bad}
    return len(
        {name for scan in scans.values() for name, images in scan.classes if any(p not in unreadable for p in images)}
    )


def describe_csv(path: Path, options: LoadOptions) -> UserDataDescription:
    """Header, rows used and dropped, classes with their row counts, text lengths."""
    lines = [f"text_csv: {path}"]
    try:
        table = read_csv_table(path, options.text_column, options.label_column)
    except DatasetError as e:
        return UserDataDescription(DatasetName.TEXT_CSV, path, lines, str(e))
    header = ", ".join(f"'{h[:40]}'" for h in table.header[:10]) + (" ..." if len(table.header) > 10 else "")
    lines.append(f"  header: {header}; text from '{table.text_column}', label from '{table.label_column}'")
    used = len(table.rows)
    dropped = f", {table.dropped} dropped as empty ({table.blank} blank, {table.empty_text} without text)"
    lines.append(f"  {table.records} rows: {used} used" + (dropped if table.dropped else ""))
    counts = table.label_counts()
    labels = sorted(counts, key=label_sort_key)
    shown = ", ".join(
        f"{label} ({counts[label]} row{'s' if counts[label] != 1 else ''})" for label in labels[:CLASSES_SHOWN]
    )
    more = f" and {len(labels) - CLASSES_SHOWN} more" if len(labels) > CLASSES_SHOWN else ""
    lines.append(f"  {len(labels)} classes: {shown}{more}")
    if table.rows:
        words = [len(tokenize(text)) for text, _ in table.rows]
        lines.append(f"  words per text: {min(words)}-{max(words)} (median {statistics.median(words):g})")
    problem = None if len(labels) >= 2 else f"text_csv: {path} holds {len(labels)} label(s); need 2+"
    return UserDataDescription(DatasetName.TEXT_CSV, path, lines, problem)
