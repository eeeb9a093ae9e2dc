"""The data options of a study (``on_bad_files``, ``text_column``, ``label_column``) travel to the trainer,
and the data notes a trainer sends back in ``trial.started`` are bounded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import DATA_NOTE_MAX_CHARS, DATA_NOTES_MAX, TrialRequestedData, TrialStartedData
from contracts.study import COLUMN_MAX_CHARS, BadFilePolicy, StudyConfig


def test_defaults_skip_bad_files_and_read_text_and_label() -> None:
    config = StudyConfig(dataset=DatasetName.DIGITS)
    assert (config.on_bad_files, config.text_column, config.label_column) == (BadFilePolicy.SKIP, "text", "label")
    request = TrialRequestedData(
        trial_number=0,
        params={},
        dataset=DatasetName.DIGITS,
        max_epochs=1,
        objective=Objective.ACCURACY,
        mode=Mode.HEALTH,
    )
    assert (request.on_bad_files, request.text_column, request.label_column) == (BadFilePolicy.SKIP, "text", "label")


def test_column_names_are_trimmed_and_kept_as_written() -> None:
    config = StudyConfig(dataset=DatasetName.TEXT_CSV, data_dir="d.csv", text_column=" Review ", label_column="Stars")
    assert (config.text_column, config.label_column) == ("Review", "Stars")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text_column": ""}, "at least 1 character"),
        ({"text_column": "   "}, "must name a column of the CSV header"),
        ({"label_column": "a\nb"}, "must name a column of the CSV header"),
        ({"label_column": "x" * (COLUMN_MAX_CHARS + 1)}, f"at most {COLUMN_MAX_CHARS} characters"),
        ({"text_column": "Label"}, "text_column and label_column both name the column 'Label'"),
        ({"on_bad_files": "ignore"}, "Input should be 'skip' or 'fail'"),
    ],
)
def test_bad_data_options_are_refused_with_a_clear_message(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StudyConfig.model_validate({"dataset": "digits", **fields})


def test_data_options_round_trip_through_json() -> None:
    config = StudyConfig(dataset=DatasetName.IMAGE_FOLDER, data_dir="imgs", on_bad_files=BadFilePolicy.FAIL)
    assert StudyConfig.model_validate_json(config.model_dump_json()) == config


def test_data_notes_are_cut_to_fifty_lines_of_five_hundred_characters() -> None:
    notes = [f"note {i} " + "x" * 1000 for i in range(80)]
    data = TrialStartedData(trainer_id="tr", trial_number=0, data_notes=notes)
    assert len(data.data_notes) == DATA_NOTES_MAX
    assert all(len(note) <= DATA_NOTE_MAX_CHARS for note in data.data_notes)
    assert data.data_notes[0].startswith("note 0 ") and data.data_notes[0].endswith("…")
    assert data.data_notes[-1] == f"… and {80 - DATA_NOTES_MAX + 1} more"
    assert TrialStartedData(trainer_id="tr", trial_number=0).data_notes == []
