"""Reuters newswire topics: the original Reuters-21578 SGML files or Keras' ``reuters.npz``.

SGML (``reut2-*.sgm``, latin-1): a document is used when its ``LEWISSPLIT`` is TRAIN or TEST, it has
a ``<BODY>``, and its ``<TOPICS>`` holds exactly one ``<D>`` topic (multi-topic stories are left
out, so every label is unambiguous). A topic becomes a class when at least ``MIN_TOPIC_DOCS`` (3)
training documents carry it (counted over all documents when there is no training split); documents
of rarer topics are dropped. Class names are the topic strings, sorted.

``reuters.npz`` (Keras): one pool of word-id sequences ``x`` with labels ``y`` (46 topics); the
registry splits it. Class names are Keras' label names.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.imdb import npz_split
from services.trainer.datasets.safe_io import load_npz, npz_lengths
from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array, object_array
from services.trainer.datasets.vocabulary import tokenize

MIN_TOPIC_DOCS = 3

KERAS_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog",
    "lead",
)  # fmt: skip

_DOC = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_SPLIT = re.compile(r'LEWISSPLIT="([A-Z-]+)"')
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.DOTALL)
_D = re.compile(r"<D>(.*?)</D>", re.DOTALL)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.DOTALL)
_NOISE = re.compile(r"[<>\x00-\x08\x0b-\x1f]")
_SIGNOFF = re.compile(r"\s*reuter\s*$", re.IGNORECASE)


def parse_sgml(text: str) -> list[tuple[str, str, str]]:
    """``(split, topic, body)`` for every single-topic TRAIN/TEST document with a body."""
    docs = []
    for attributes, content in _DOC.findall(text):
        split_match = _SPLIT.search(attributes)
        split = split_match.group(1).lower() if split_match else ""
        topics_match = _TOPICS.search(content)
        body_match = _BODY.search(content)
        if split not in ("train", "test") or topics_match is None or body_match is None:
            continue
        topics = _D.findall(topics_match.group(1))
        if len(topics) != 1:
            continue
        # "&lt;ACME Corp>" names a company, not a tag: keep the words, drop the brackets and control characters.
        body = _SIGNOFF.sub("", _NOISE.sub(" ", html.unescape(body_match.group(1))))
        docs.append((split, topics[0].strip(), body))
    return docs


def _sgml_files(directory: Path) -> list[Path]:
    for candidate in (directory / "reuters21578", directory):
        files = sorted(candidate.glob("reut2-*.sgm"))
        if files:
            return files
    return []


def find_sgml(directory: Path) -> Source | None:
    """A Reuters-21578 SGML source in ``directory`` (or its ``reuters21578/`` subfolder)."""
    files = _sgml_files(directory)
    if not files:
        return None
    count = 0
    held: set[str] = set()
    for path in files:
        with path.open("rb") as f:
            data = f.read()
        count += data.count(b"<REUTERS ")
        held.update(s for s in ("train", "test") if f'LEWISSPLIT="{s.upper()}"'.encode() in data)

    def load() -> RawData:
        docs: list[tuple[str, str, str]] = []
        for path in files:
            try:
                docs.extend(parse_sgml(path.read_text(encoding="latin-1")))
            except OSError as e:
                raise DatasetError(f"{path}: cannot read ({e})") from e
        return _to_raw(files[0].parent, docs)

    splits = tuple(s for s in ("train", "test") if s in held) or ("train", "test")
    return Source("Reuters-21578 SGML", files[0].parent, count, splits, load)


def _to_raw(location: Path, docs: list[tuple[str, str, str]]) -> RawData:
    has_train = any(split == "train" for split, _, _ in docs)
    counts = Counter(topic for split, topic, _ in docs if split == "train" or not has_train)
    class_names = sorted(topic for topic, n in counts.items() if n >= MIN_TOPIC_DOCS)
    if len(class_names) < 2:
        raise DatasetError(
            f"reuters: {location} holds {len(docs)} single-topic documents but fewer than 2 topics with "
            f"{MIN_TOPIC_DOCS}+ training documents; add more reut2-*.sgm files"
        )
    index = {name: i for i, name in enumerate(class_names)}
    splits: dict[str, RawSplit] = {}
    for split in ("train", "test"):
        kept = [(tokenize(body), index[topic]) for s, topic, body in docs if s == split and topic in index]
        if kept:
            splits[split] = RawSplit(object_array([d for d, _ in kept]), labels_array([y for _, y in kept]))
    note = (
        f"reuters: kept {sum(len(s) for s in splits.values())} single-topic documents of the {len(class_names)} "
        f"topics with at least {MIN_TOPIC_DOCS} training documents."
    )
    return RawData(train=splits.get("train"), test=splits.get("test"), class_names=class_names, notes=[note])


def find_reuters_npz(directory: Path) -> Source | None:
    """Keras' ``reuters.npz`` (arrays ``x`` and ``y``) in ``directory``."""
    path = directory / "reuters.npz"
    if not path.is_file():
        return None
    lengths = npz_lengths(path)

    def load() -> RawData:
        arrays = load_npz(path)
        if not {"x", "y"} <= set(arrays):
            raise DatasetError(f"{path}: missing arrays 'x'/'y'; not a Keras reuters.npz")
        num_classes = max(len(KERAS_LABEL_NAMES), int(arrays["y"].max()) + 1 if len(arrays["y"]) else 0)
        names = [*KERAS_LABEL_NAMES, *(f"topic_{i}" for i in range(len(KERAS_LABEL_NAMES), num_classes))]
        pool = npz_split(path, arrays["x"], arrays["y"], num_classes)
        return RawData(train=pool, test=None, class_names=names)

    return Source("Keras reuters.npz", path.parent, lengths.get("x", 0), ("all",), load)
