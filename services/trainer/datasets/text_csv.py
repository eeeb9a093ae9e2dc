"""User text data: a CSV with a header naming a text and a label column (other columns are ignored).

The columns are ``text`` and ``label`` unless the study names others (``text_column=``,
``label_column=``); header names match without regard to case or surrounding spaces. ``data_dir`` is
the CSV file itself or a folder holding exactly one ``.csv``. Label strings become the class names,
sorted (numerically when every label is a number). Rows are counted as CSV records (a quoted field
may span several lines); blank rows and rows whose text is empty are dropped, and a note says how
many. The file is one pool that the registry splits into train/validation/test.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawData, RawSplit, Source, labels_array, object_array
from services.trainer.datasets.vocabulary import tokenize

HEADER_SHOWN = 10


def locate_csv(data_dir: Path, text_column: str = "text", label_column: str = "label") -> Path:
    """The CSV file ``data_dir`` names, directly or as the only ``.csv`` in a folder."""
    header = f"a header naming '{text_column}' and '{label_column}' columns"
    if data_dir.is_file():
        return data_dir
    if data_dir.is_dir():
        found = csv_files(data_dir)
        if len(found) == 1:
            return found[0]
        raise DatasetError(
            f"text_csv: {data_dir} holds {len(found)} .csv files, expected exactly one "
            f"(or pass the CSV file itself) with {header}"
        )
    raise DatasetError(f"text_csv: {data_dir} does not exist; pass a CSV file with {header}")


def csv_files(folder: Path) -> list[Path]:
    """The ``.csv`` files directly inside ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def label_sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


@dataclass(frozen=True)
class CsvTable:
    """The (text, label) rows of a CSV, and what was dropped on the way."""

    path: Path
    header: list[str]
    text_column: str
    label_column: str
    rows: list[tuple[str, str]]
    records: int
    """Data records after the header (CSV rows, not physical lines), dropped ones included."""
    blank: int
    """Records whose every cell is empty."""
    empty_text: int
    """Records with a label but an empty text."""

    @property
    def dropped(self) -> int:
        return self.blank + self.empty_text

    def label_counts(self) -> Counter[str]:
        return Counter(label for _, label in self.rows)

    def note(self) -> str:
        """``"text_csv: d.csv: 20 rows used (text 'text', label 'label'); dropped 2 empty rows"``."""
        used = len(self.rows)
        note = (
            f"text_csv: {self.path.name}: {used} row{'s' if used != 1 else ''} used "
            f"(text from column '{self.text_column}', label from '{self.label_column}')"
        )
        if self.dropped:
            parts = [f"{self.blank} blank"] if self.blank else []
            parts += [f"{self.empty_text} with an empty text"] if self.empty_text else []
            note += f"; dropped {self.dropped} empty row{'s' if self.dropped != 1 else ''} ({', '.join(parts)})"
        return note + "."


def _shown_header(header: list[str]) -> str:
    cells = [f"'{cell[:40]}'" for cell in header[:HEADER_SHOWN]]
    more = f" and {len(header) - HEADER_SHOWN} more" if len(header) > HEADER_SHOWN else ""
    return (", ".join(cells) + more) or "nothing"


def _read(path: Path, encoding: str, text_column: str, label_column: str) -> CsvTable:
    rows: list[tuple[str, str]] = []
    records = blank = empty_text = 0
    with path.open(newline="", encoding=encoding) as f:
        reader = csv.reader(f)
        raw_header = next(reader, [])
        header = [h.strip().lower() for h in raw_header]
        wanted = (text_column.strip().lower(), label_column.strip().lower())
        named = zip((text_column, label_column), wanted, strict=True)
        missing = [f"'{name}'" for name, key in named if key not in header]
        if missing:
            raise DatasetError(
                f"text_csv: {path} needs a header row with '{text_column}' and '{label_column}' columns; its first row "
                f"({len(header)} columns: {_shown_header([h.strip() for h in raw_header])}) has no "
                f"{' or '.join(missing)} column; name yours with text_column= and label_column="
            )
        text_col, label_col = header.index(wanted[0]), header.index(wanted[1])
        for row in reader:
            records += 1
            if not row or all(not cell.strip() for cell in row):
                blank += 1
                continue
            if len(row) <= max(text_col, label_col):
                where = f"row {records} (ending on line {reader.line_num})"
                raise DatasetError(f"text_csv: {path} {where} has {len(row)} columns, the header has {len(header)}")
            label = row[label_col].strip()
            if not label:
                where = f"row {records} (ending on line {reader.line_num})"
                raise DatasetError(f"text_csv: {path} {where} has an empty '{label_column}'")
            if row[text_col].strip():
                rows.append((row[text_col], label))
            else:
                empty_text += 1
    return CsvTable(path, [h.strip() for h in raw_header], text_column, label_column, rows, records, blank, empty_text)


def read_csv_table(path: Path, text_column: str = "text", label_column: str = "label") -> CsvTable:
    """Read the whole CSV (UTF-8, else Latin-1); malformed files raise ``DatasetError``."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        try:
            return _read(path, "utf-8-sig", text_column, label_column)
        except UnicodeDecodeError:
            return _read(path, "latin-1", text_column, label_column)
    except csv.Error as e:
        raise DatasetError(f"text_csv: {path} is not valid CSV ({e})") from e
    except OSError as e:
        raise DatasetError(f"text_csv: cannot read {path} ({e.strerror or e})") from e


def find_text_csv(data_dir: Path, text_column: str = "text", label_column: str = "label") -> Source:
    """The ``text_csv`` dataset as a one-pool source; the file is read (once) here, to count its rows."""
    path = locate_csv(data_dir, text_column, label_column)
    table = read_csv_table(path, text_column, label_column)

    def load() -> RawData:
        class_names = sorted(table.label_counts(), key=label_sort_key)
        if len(class_names) < 2:
            raise DatasetError(
                f"text_csv: {path} holds {len(table.rows)} rows with {len(class_names)} label(s); need 2+"
            )
        index = {name: i for i, name in enumerate(class_names)}
        rows = table.rows
        pool = RawSplit(object_array([tokenize(t) for t, _ in rows]), labels_array([index[lb] for _, lb in rows]))
        return RawData(train=pool, test=None, class_names=class_names, notes=[table.note()])

    return Source("text CSV", path, len(table.rows), ("all",), load)
