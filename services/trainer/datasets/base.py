"""What every dataset loader returns: train/validation/test splits plus a description."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from contracts.enums import DatasetName, Modality
from contracts.study import BadFilePolicy

# Text datasets hold word-index sequences: 0 = padding, 1 = out-of-vocabulary, and words ranked
# by frequency in the training split from 2 upwards (2 = most frequent). The trainer maps every
# index >= vocab_size to 1 and pads/truncates to sequence_length per trial.
PAD_INDEX = 0
OOV_INDEX = 1
FIRST_WORD_INDEX = 2


@dataclass(frozen=True)
class LoadOptions:
    """How user data is read: what to do with unreadable images, which CSV columns hold text and label."""

    on_bad_files: BadFilePolicy = BadFilePolicy.SKIP
    text_column: str = "text"
    label_column: str = "label"


@dataclass(frozen=True)
class Split:
    """One split. Images: ``x`` float32 (N, H, W, C) in [0, 1]. Text: ``x`` object array of int32 arrays."""

    x: npt.NDArray[np.generic]
    y: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class DatasetSplits:
    name: DatasetName
    modality: Modality
    train: Split
    validation: Split
    test: Split
    class_names: list[str]
    input_shape: tuple[int, ...] = ()
    source: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Problems the user should fix (files skipped); like ``notes``, an entry may hold several lines."""
    test_source: str = ""
    """Where the test split came from: the dataset's own test files, or a part the loader split off."""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def note_lines(self) -> list[str]:
        """Warnings, then notes, one line each (lines of a listing keep their indent)."""
        return [line.rstrip() for note in (*self.warnings, *self.notes) for line in note.splitlines() if line.strip()]


@dataclass(frozen=True)
class DatasetInfo:
    """What ``describe_datasets`` reports about one dataset for a given data directory.

    ``available`` means the dataset can be loaded from that directory as it is (``digits`` always
    can). ``source`` names the format and folder that would be used; ``num_samples`` is a cheap count
    or estimate of the images/documents found there. User-data kinds (``image_folder``,
    ``text_csv``) take their own path per study, so they are never ``available`` here.
    """

    name: DatasetName
    modality: Modality
    description: str
    formats: tuple[str, ...]
    num_classes: int | None
    input_shape: tuple[int, ...] | None
    available: bool
    user_data: bool = False
    source: str | None = None
    num_samples: int | None = None
    problem: str | None = None
    download_url: str | None = None
