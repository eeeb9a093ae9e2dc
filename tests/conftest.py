"""Shared test setup: keep Keras and Matplotlib caches inside the workspace, quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

_WORKSPACE_CACHE = Path(__file__).resolve().parent.parent / ".hpo_home"
os.environ.setdefault("KERAS_HOME", str(_WORKSPACE_CACHE / "keras"))
os.environ.setdefault("MPLCONFIGDIR", str(_WORKSPACE_CACHE / "matplotlib"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"

pytest_plugins = ["tests.support.s3", "tests.support.browser"]
