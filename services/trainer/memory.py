"""Process memory: the resident set size, and releasing a finished trial's graph and tensors."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

import psutil


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def release_trial_memory() -> None:
    """Drop Keras' global state (layer name counters, graphs) and collect what the trial left behind."""
    import keras

    keras.backend.clear_session(free_memory=True)
    gc.collect()
    return_freed_heap()


def return_freed_heap() -> None:
    """Hand the heap pages that glibc keeps after frees back to the OS (``malloc_trim``); Linux only."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name:
        ctypes.CDLL(name).malloc_trim(0)
