"""Loaded datasets kept between trials, so a trainer reads and splits each dataset once.

Splits always use the loader's default seed: every trial and every trainer sees the same
train/validation/test samples, whatever the trial's own seed (which drives weights and shuffling).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from contracts.enums import DatasetName
from services.trainer.datasets import DatasetSplits, load_dataset

CacheKey = tuple[str, str | None, int | None]


class DatasetCache:
    def __init__(self, capacity: int = 2) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[CacheKey, DatasetSplits] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(name: DatasetName, data_dir: Path | None, max_samples: int | None) -> CacheKey:
        return (name.value, str(data_dir.resolve()) if data_dir is not None else None, max_samples)

    def get(
        self, name: DatasetName, data_dir: Path | None, max_samples: int | None, *, allow_download: bool = False
    ) -> DatasetSplits:
        """The cached splits, loading them (and raising ``DatasetError``) on a miss."""
        key = self.key(name, data_dir, max_samples)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            splits = load_dataset(name, data_dir, max_samples=max_samples, allow_download=allow_download)
            self._entries[key] = splits
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            return splits

    def put(self, name: DatasetName, data_dir: Path | None, max_samples: int | None, splits: DatasetSplits) -> None:
        with self._lock:
            self._entries[self.key(name, data_dir, max_samples)] = splits
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_SHARED = DatasetCache()


def shared_cache() -> DatasetCache:
    """The process-wide cache: the CLI's preflight fills it, the embedded trainer reuses it."""
    return _SHARED
