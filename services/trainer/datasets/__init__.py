"""Dataset loaders: built-in datasets from their original file formats, and user data."""

from services.trainer.datasets.base import (
    FIRST_WORD_INDEX,
    OOV_INDEX,
    PAD_INDEX,
    DatasetInfo,
    DatasetSplits,
    LoadOptions,
    Split,
)
from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.registry import DEFAULT_SEED, describe_datasets, load_dataset

__all__ = [
    "DEFAULT_SEED",
    "FIRST_WORD_INDEX",
    "OOV_INDEX",
    "PAD_INDEX",
    "DatasetError",
    "DatasetInfo",
    "DatasetSplits",
    "LoadOptions",
    "Split",
    "describe_datasets",
    "load_dataset",
]
