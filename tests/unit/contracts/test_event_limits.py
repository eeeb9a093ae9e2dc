"""Limits in the contracts: ids of safe characters, bounded free text. A forged or runaway event cannot
carry a path, an SSE line break or a 20 MiB reason into the services."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from contracts.events import (
    REASON_MAX_CHARS,
    StudyCreatedData,
    StudyStopRequested,
    StudyStopRequestedData,
    TrialFailed,
    TrialFailedData,
    parse_event,
)
from contracts.study import StudyConfig


@pytest.mark.parametrize("bad_id", ["x\n\nevent: end", "../../s", "a/b", "", "s" * 65, "id with space"])
def test_ids_carry_only_safe_characters(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        StudyStopRequested(source="test", study_id=bad_id, data=StudyStopRequestedData())
    body = StudyStopRequested(source="test", study_id="ok", data=StudyStopRequestedData()).model_dump(mode="json")
    with pytest.raises(ValidationError):
        parse_event(json.dumps({**body, "id": bad_id}))


@pytest.mark.parametrize("name", ["../../renamed", "/abs", "a/b", ".hidden", "x" * 101])
def test_study_names_are_safe_folder_names(name: str) -> None:
    with pytest.raises(ValidationError):
        StudyCreatedData(study_name=name, config=StudyConfig(dataset="digits"))


def test_a_huge_failure_reason_is_cut() -> None:
    event = TrialFailed(
        source="trainer", study_id="s", trial_id="t", data=TrialFailedData(trial_number=0, reason="x" * 20 * 1024**2)
    )
    assert len(event.data.reason) == REASON_MAX_CHARS and event.data.reason.endswith("…")
