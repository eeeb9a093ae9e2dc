"""IMDB movie reviews: the original ``aclImdb/{train,test}/{neg,pos}/*.txt`` folders or Keras' ``imdb.npz``.

Labels: 0 = neg, 1 = pos. From the folders, reviews are tokenized here; from ``imdb.npz`` each stored
word id is kept as a token and re-ranked by training-split frequency like any other word (the
optional ``imdb_word_index.json`` is not needed for that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.safe_io import load_npz, npz_lengths
from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array, object_array
from services.trainer.datasets.vocabulary import tokenize

CLASS_NAMES = ["neg", "pos"]


def _acl_root(directory: Path) -> Path | None:
    for candidate in (directory / "aclImdb", directory):
        if any((candidate / split / label).is_dir() for split in ("train", "test") for label in CLASS_NAMES):
            return candidate
    return None


def _review_files(root: Path, split: str) -> list[tuple[Path, int]]:
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(CLASS_NAMES):
        folder = root / split / name
        if folder.is_dir():
            files.extend((p, label) for p in sorted(folder.glob("*.txt")))
    return files


def _read_reviews(files: list[tuple[Path, int]]) -> RawSplit:
    docs = []
    for path, _ in files:
        try:
            docs.append(tokenize(path.read_text(encoding="utf-8", errors="replace")))
        except OSError as e:
            raise DatasetError(f"{path}: cannot read review ({e})") from e
    return RawSplit(object_array(docs), labels_array([label for _, label in files]))


def find_aclimdb(directory: Path) -> Source | None:
    """An ``aclImdb`` folder source in ``directory`` (or ``directory`` itself when it is ``aclImdb``)."""
    root = _acl_root(directory)
    if root is None:
        return None
    files = {split: f for split in ("train", "test") if (f := _review_files(root, split))}
    if not files:
        return None

    def load() -> RawData:
        loaded = {split: _read_reviews(f) for split, f in files.items()}
        return RawData(train=loaded.get("train"), test=loaded.get("test"), class_names=list(CLASS_NAMES))

    return Source("aclImdb text folders", root, sum(len(f) for f in files.values()), tuple(files), load)


def npz_split(path: Path, x: Any, y: Any, num_classes: int) -> RawSplit:
    """Word-id sequences and labels from Keras-style ``.npz`` arrays, validated."""
    try:
        docs = [[int(w) for w in seq] for seq in x]
        labels = labels_array(y)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{path}: sequences or labels are malformed ({e})") from e
    if len(docs) != len(labels):
        raise DatasetError(f"{path}: {len(docs)} sequences but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{path}: labels must be 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    return RawSplit(object_array(docs), labels)


def find_imdb_npz(directory: Path) -> Source | None:
    """Keras' ``imdb.npz`` (x_train, y_train, x_test, y_test) in ``directory``."""
    path = directory / "imdb.npz"
    if not path.is_file():
        return None
    lengths = npz_lengths(path)

    def load() -> RawData:
        arrays = load_npz(path)
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
        if missing:
            raise DatasetError(f"{path}: missing arrays {sorted(missing)}; not a Keras imdb.npz")
        train = npz_split(path, arrays["x_train"], arrays["y_train"], 2)
        test = npz_split(path, arrays["x_test"], arrays["y_test"], 2)
        return RawData(train=train, test=test, class_names=list(CLASS_NAMES))

    count = lengths.get("x_train", 0) + lengths.get("x_test", 0)
    return Source("Keras imdb.npz", path.parent, count, ("train", "test"), load)
