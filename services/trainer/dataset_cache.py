"""Loaded datasets kept between trials, so a trainer reads and splits each dataset once.

Splits always use the loader's default seed: every trial and every trainer sees the same
train/validation/test samples, whatever the trial's own seed (which drives weights and shuffling).
The key holds everything that changes what is loaded: the dataset, its folder, the sample cap and
the ``LoadOptions`` (unreadable-file policy, CSV columns).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from contracts.enums import DatasetName
from services.trainer.datasets import DatasetSplits, LoadOptions, load_dataset

CacheKey = tuple[str, str | None, int | None, str, str, str]


class DatasetCache:
    def __init__(self, capacity: int = 2) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[CacheKey, DatasetSplits] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(
        name: DatasetName, data_dir: Path | None, max_samples: int | None, options: LoadOptions | None = None
    ) -> CacheKey:
        opts = options or LoadOptions()
        folder = str(data_dir.resolve()) if data_dir is not None else None
        return (name.value, folder, max_samples, opts.on_bad_files.value, opts.text_column, opts.label_column)

    def get(
        self,
        name: DatasetName,
        data_dir: Path | None,
        max_samples: int | None,
        *,
        allow_download: bool = False,
        options: LoadOptions | None = None,
    ) -> DatasetSplits:
        """The cached splits, loading them (and raising ``DatasetError``) on a miss."""
        key = self.key(name, data_dir, max_samples, options)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            splits = load_dataset(
                name, data_dir, max_samples=max_samples, allow_download=allow_download, options=options
            )
            self._entries[key] = splits
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            return splits

    def put(
        self,
        name: DatasetName,
        data_dir: Path | None,
        max_samples: int | None,
        splits: DatasetSplits,
        options: LoadOptions | None = None,
    ) -> None:
        with self._lock:
            self._entries[self.key(name, data_dir, max_samples, options)] = splits
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_SHARED = DatasetCache()


def shared_cache() -> DatasetCache:
    """The process-wide cache: the CLI's preflight fills it, the embedded trainer reuses it."""
    return _SHARED
