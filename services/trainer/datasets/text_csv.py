"""User text data: a CSV with a header holding ``text`` and ``label`` columns (other columns are ignored).

``data_dir`` is the CSV file itself or a folder holding exactly one ``.csv``. Label strings become the
class names, sorted (numerically when every label is a number). Rows whose text is empty are skipped.
The file is one pool that the registry splits into train/validation/test.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array, object_array
from services.trainer.datasets.vocabulary import tokenize


def locate_csv(data_dir: Path) -> Path:
    """The CSV file ``data_dir`` names, directly or as the only ``.csv`` in a folder."""
    if data_dir.is_file():
        return data_dir
    if data_dir.is_dir():
        found = sorted(p for p in data_dir.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
        if len(found) == 1:
            return found[0]
        raise DatasetError(
            f"text_csv: {data_dir} holds {len(found)} .csv files, expected exactly one "
            "(or pass the CSV file itself) with a header 'text,label'"
        )
    raise DatasetError(f"text_csv: {data_dir} does not exist; pass a CSV file with a header 'text,label'")


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _read_rows(path: Path, encoding: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with path.open(newline="", encoding=encoding) as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [f"'{name}'" for name in ("text", "label") if name not in header]
        if missing:
            raise DatasetError(
                f"text_csv: {path} needs a header row with 'text' and 'label' columns; its first row "
                f"({len(header)} columns) has no {' or '.join(missing)} column"
            )
        text_col, label_col = header.index("text"), header.index("label")
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) <= max(text_col, label_col):
                raise DatasetError(
                    f"text_csv: {path} line {line_no} has {len(row)} columns, the header has {len(header)}"
                )
            label = row[label_col].strip()
            if not label:
                raise DatasetError(f"text_csv: {path} line {line_no} has an empty label")
            if row[text_col].strip():
                rows.append((row[text_col], label))
    return rows


def find_text_csv(data_dir: Path) -> Source:
    """The ``text_csv`` dataset as a one-pool source."""
    path = locate_csv(data_dir)

    def load() -> RawData:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            try:
                rows = _read_rows(path, "utf-8-sig")
            except UnicodeDecodeError:
                rows = _read_rows(path, "latin-1")
        except csv.Error as e:
            raise DatasetError(f"text_csv: {path} is not valid CSV ({e})") from e
        class_names = sorted({label for _, label in rows}, key=_sort_key)
        if len(class_names) < 2:
            raise DatasetError(f"text_csv: {path} holds {len(rows)} rows with {len(class_names)} label(s); need 2+")
        index = {name: i for i, name in enumerate(class_names)}
        pool = RawSplit(object_array([tokenize(t) for t, _ in rows]), labels_array([index[lb] for _, lb in rows]))
        return RawData(train=pool, test=None, class_names=class_names)

    with path.open("rb") as f:
        count = max(0, f.read().count(b"\n") - 1)
    return Source("text CSV", path, count, ("all",), load)
