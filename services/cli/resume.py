"""``hpo optimize --resume NAME`` / ``hpo resume NAME``: find an interrupted embedded study to continue.

The study is looked up by name or id in the output folder's read models (``.hpo/read_models.sqlite``);
its own settings are kept. A study that was stopped (Ctrl-C) or whose process died (still marked
running) can be resumed; a completed or failed one cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contracts.enums import StudyState, TrialState
from contracts.study import StudyConfig
from services.cli.progress import TrialSummary
from services.runtime.db.engine import create_engine_for, sqlite_url
from services.runtime.db.migrate import upgrade
from services.runtime.db.repository import MAX_PAGE_SIZE, ReadModelRepository
from services.runtime.errors import UserInputError

RESUMABLE = frozenset({StudyState.STOPPED.value, StudyState.RUNNING.value})


@dataclass(frozen=True)
class ResumableStudy:
    study_id: str
    name: str
    config: StudyConfig
    finished: dict[str, TrialSummary]
    """The trials that ended before, by trial id (seed the progress display)."""


def find_study(output_dir: Path, key: str) -> ResumableStudy:
    database = output_dir / ".hpo" / "read_models.sqlite"
    if not database.is_file():
        raise UserInputError(f"no studies in {output_dir} to resume; give the output_dir= the study ran in")
    url = sqlite_url(database)
    upgrade(url)
    repository = ReadModelRepository(create_engine_for(url))
    try:
        record = repository.get_study(key) or next(
            (s for s in repository.list_studies(limit=MAX_PAGE_SIZE) if s.name == key), None
        )
        if record is None:
            names = ", ".join(s.name for s in repository.list_studies(limit=5)) or "none"
            raise UserInputError(f"no study named or numbered {key!r} in {output_dir}; recent ones: {names}")
        if record.state not in RESUMABLE:
            raise UserInputError(
                f"study {record.name} is {record.state}; only a stopped or interrupted study can be resumed"
            )
        trials = repository.list_trials(record.study_id, limit=MAX_PAGE_SIZE)
    finally:
        repository.engine.dispose()
    finished = {
        t.trial_id: TrialSummary(t.number or 0, t.val_accuracy, t.overall_health, t.state)
        for t in trials
        if t.state in (TrialState.COMPLETED.value, TrialState.PRUNED.value, TrialState.FAILED.value)
    }
    return ResumableStudy(record.study_id, record.name, StudyConfig.model_validate(record.config), finished)
