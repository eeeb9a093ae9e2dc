"""Checks before a study starts, so a user's mistake is one line and not eight failed trials."""

from __future__ import annotations

import tempfile
from pathlib import Path

from contracts.study import StudyConfig
from services.runtime.errors import UserInputError
from services.trainer.dataset_cache import shared_cache
from services.trainer.datasets import DatasetError


def check_dataset(config: StudyConfig, *, allow_download: bool = False) -> list[str]:
    """Load the dataset once; raise ``DatasetError`` (a ``UserInputError``) when it is missing or corrupt.

    The splits stay in the trainer's shared cache, so the embedded trainer does not load them again.
    Returns the loader's notes (which files it used, how it split them) to show the user.
    """
    data_dir = Path(config.data_dir) if config.data_dir else None
    if data_dir is not None and not data_dir.exists():
        raise DatasetError(f"data_dir {data_dir} does not exist")
    splits = shared_cache().get(config.dataset, data_dir, config.max_samples, allow_download=allow_download)
    sizes = f"train {len(splits.train)}, validation {len(splits.validation)}, test {len(splits.test)}"
    return [f"{splits.source} ({sizes}, {splits.num_classes} classes)", *splits.notes]


def check_output_dir(output_dir: Path) -> Path:
    """The results folder, created if needed and checked writable before anything is loaded; a folder that
    cannot hold results is one line (``UserInputError``) naming why."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UserInputError(f"output_dir {output_dir} is a file, not a folder; choose another output_dir=")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output_dir, prefix=".hpo-write-check-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UserInputError(
            f"output_dir {output_dir} cannot hold the results ({why}); choose another output_dir="
        ) from None
    return output_dir
