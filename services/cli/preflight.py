"""Checks before a study starts, so a user's mistake is one line and not eight failed trials."""

from __future__ import annotations

from pathlib import Path

from contracts.study import StudyConfig
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
