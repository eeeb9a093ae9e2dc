"""Process memory: the resident set size, and releasing a finished trial's graph and tensors."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

import psutil


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def freeze_long_lived_objects() -> None:
    """Move every object alive now (TensorFlow's and Keras' import-time objects, about 290,000) out of the
    collector's reach (``gc.freeze``). They live as long as the process anyway; what changes is that each later
    full collection, ``release_trial_memory``'s included, walks only what was made since: 0.43 s → 0.04 s per
    digits trial. No collection first: the imports leave 5 collectable objects, and walking the 290,000 to
    find them would cost 0.135 s of the child's start. Call it once, in a child that is about to serve trials."""
    gc.freeze()


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
