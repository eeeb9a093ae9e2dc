"""Text CSVs whose columns have other names, and notes that count rows (records), not lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.enums import DatasetName
from contracts.study import BadFilePolicy
from services.trainer.dataset_cache import DatasetCache
from services.trainer.datasets import DatasetError, LoadOptions, load_dataset
from services.trainer.datasets.catalog import SPECS
from services.trainer.datasets.registry import find_source

REVIEWS = LoadOptions(text_column="Review", label_column="sentiment")


def _reviews(path: Path) -> Path:
    rows = ["id,review,Sentiment,label"]
    rows += [f"{i},great fine film {i},pos,x" for i in range(8)]
    rows += [f"{i},awful dull film {i},neg,x" for i in range(8)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_other_column_names_are_read_when_named(tmp_path):
    _reviews(tmp_path / "reviews.csv")
    data = load_dataset(DatasetName.TEXT_CSV, tmp_path, options=REVIEWS)
    assert data.class_names == ["neg", "pos"]
    assert len(data.train) + len(data.validation) + len(data.test) == 16
    assert data.notes[0] == "text_csv: reviews.csv: 16 rows used (text from column 'Review', label from 'sentiment')."


def test_a_missing_named_column_says_which_and_shows_the_header(tmp_path):
    _reviews(tmp_path / "reviews.csv")
    with pytest.raises(DatasetError) as caught:
        load_dataset(DatasetName.TEXT_CSV, tmp_path, options=LoadOptions(text_column="body", label_column="Sentiment"))
    message = str(caught.value)
    assert "needs a header row with 'body' and 'Sentiment' columns" in message
    assert "has no 'body' column" in message and "'id', 'review', 'Sentiment', 'label'" in message
    assert "text_column=" in message


def test_the_defaults_still_name_text_and_label(tmp_path):
    _reviews(tmp_path / "reviews.csv")
    with pytest.raises(DatasetError, match=r"needs a header row with 'text' and 'label' columns.* no 'text' column"):
        load_dataset(DatasetName.TEXT_CSV, tmp_path)


def test_rows_are_counted_as_records_and_empty_rows_are_dropped_with_a_note(tmp_path):
    path = tmp_path / "d.csv"
    records = ["text,label", '"first line\nsecond line\nthird line",a', "plain,b"]
    records += [f"word {i},{'ab'[i % 2]}" for i in range(10)]
    records += [",a", "", " , ", '"",b']  # empty text, a blank line, blank cells, quoted empty text
    path.write_text("\n".join(records) + "\n")

    source = find_source(SPECS[DatasetName.TEXT_CSV], path)
    data = load_dataset(DatasetName.TEXT_CSV, path)

    assert source.num_samples == 12  # the three-line record counts once
    assert "~12 samples" in data.source
    assert len(data.train) + len(data.validation) + len(data.test) == 12
    assert data.notes[0] == (
        "text_csv: d.csv: 12 rows used (text from column 'text', label from 'label'); "
        "dropped 4 empty rows (2 blank, 2 with an empty text)."
    )


def test_row_errors_name_the_record_and_its_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"a\nb",x\nc,\n')
    with pytest.raises(DatasetError, match=r"row 2 \(ending on line 4\) has an empty 'label'"):
        load_dataset(DatasetName.TEXT_CSV, path)


def test_the_dataset_cache_keeps_one_entry_per_column_choice(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["a,b"] + [f"{'xy'[i % 2]} word{i},{'pq'[i % 2]}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    cache = DatasetCache()
    by_a = cache.get(DatasetName.TEXT_CSV, path, None, options=LoadOptions(text_column="a", label_column="b"))
    by_b = cache.get(DatasetName.TEXT_CSV, path, None, options=LoadOptions(text_column="b", label_column="a"))
    assert by_a.class_names == ["p", "q"]
    assert len(by_b.class_names) == 20
    strict = LoadOptions(on_bad_files=BadFilePolicy.FAIL)
    assert cache.key(DatasetName.TEXT_CSV, path, None, strict) != cache.key(DatasetName.TEXT_CSV, path, None)
