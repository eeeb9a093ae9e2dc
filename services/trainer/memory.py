"""Process memory: the resident set size, and releasing a finished trial's graph and tensors."""

from __future__ import annotations

import gc

import psutil


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def release_trial_memory() -> None:
    """Drop Keras' global state (layer name counters, graphs) and collect what the trial left behind."""
    import keras

    keras.backend.clear_session(free_memory=True)
    gc.collect()
