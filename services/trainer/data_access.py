"""Which folder a trial may read its data from: a path inside the trainer's data folder.

A trial request names its data with ``data_dir``: a path relative to the trainer's data folder
(``HPO_TRAINER_DATA_DIR``, the current folder when unset), which must stay inside it once resolved
(symbolic links included). An absolute path is accepted only where the user at the terminal named it
(the embedded run sets ``allow_absolute_data_dir``). Refusals say nothing about what exists where.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from services.runtime.errors import TrialFailure
from services.trainer.settings import TrainerSettings


class DataDirRefused(TrialFailure):
    """A trial named a data folder outside the trainer's data folder."""


def resolve_data_dir(requested: str | None, settings: TrainerSettings) -> Path | None:
    """The folder to load the trial's dataset from (None: the dataset needs none, e.g. ``digits``)."""
    if not requested:
        return settings.data_dir
    path = PurePath(requested)
    if path.is_absolute():
        if settings.allow_absolute_data_dir:
            return Path(path)
        raise DataDirRefused("data_dir must be a path relative to the trainer's data folder (HPO_TRAINER_DATA_DIR)")
    root = (settings.data_dir or Path(".")).resolve()
    resolved = (root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise DataDirRefused("data_dir must stay inside the trainer's data folder (HPO_TRAINER_DATA_DIR)")
    return resolved
