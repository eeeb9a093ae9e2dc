"""Checks before a study starts, so a user's mistake is one line and not eight failed trials."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.markup import escape

from contracts.study import StudyConfig
from services.runtime.errors import UserInputError
from services.trainer.dataset_cache import shared_cache
from services.trainer.datasets import DatasetError, LoadOptions


def load_options(config: StudyConfig) -> LoadOptions:
    """How the trainer reads the study's data (the same options travel in ``trial.requested``)."""
    return LoadOptions(config.on_bad_files, config.text_column, config.label_column)


def check_dataset(config: StudyConfig, *, allow_download: bool = False) -> list[str]:
    """Load the dataset once; raise ``DatasetError`` (a ``UserInputError``) when it is missing or corrupt.

    The splits stay in the trainer's shared cache, so the embedded trainer does not load them again.
    Returns the loader's warnings (files skipped) and notes (which files it used, how it split them)
    to show the user, as console markup (an entry may span several lines).
    """
    data_dir = Path(config.data_dir) if config.data_dir else None
    if data_dir is not None and not data_dir.exists():
        raise DatasetError(f"data_dir {data_dir} does not exist")
    splits = shared_cache().get(
        config.dataset, data_dir, config.max_samples, allow_download=allow_download, options=load_options(config)
    )
    sizes = f"train {len(splits.train)}, validation {len(splits.validation)}, test {len(splits.test)}"
    lines = [escape(f"{splits.source} ({sizes}, {splits.num_classes} classes)")]
    lines += [f"[yellow]warning:[/yellow] {escape(warning)}" for warning in splits.warnings]
    return lines + [escape(note) for note in splits.notes]


def check_output_dir(output_dir: Path) -> Path:
    """Check, before anything is loaded, that the results folder can be written, leaving nothing behind
    (the folder is made when the study starts); a folder that cannot hold results is one line
    (``UserInputError``) naming why."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UserInputError(f"output_dir {output_dir} is a file, not a folder: choose another output_dir=")
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserInputError(f"output_dir {output_dir} is inside {existing}, a file: choose another output_dir=")
    try:
        probe = tempfile.mkdtemp(prefix=".hpo-write-check-", dir=existing)
        os.rmdir(probe)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UserInputError(
            f"output_dir {output_dir} cannot hold the results ({why}): choose another output_dir="
        ) from None
    return output_dir
