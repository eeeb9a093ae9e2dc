"""What the benchmark scripts share, imported first (before anything imports TensorFlow): the workspace's Keras
and Matplotlib homes, quiet TensorFlow logs, the defaults of the embedded-study benchmarks, and the load-average
line every script prints at its start and end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_CACHE_HOME = REPO_ROOT / ".hpo_home"


def use_workspace_homes() -> None:
    """Keras and Matplotlib write under ``.hpo_home``, and TensorFlow logs warnings only (unless already set)."""
    os.environ.setdefault("KERAS_HOME", str(_CACHE_HOME / "keras"))
    os.environ.setdefault("MPLCONFIGDIR", str(_CACHE_HOME / "matplotlib"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def embedded_study_defaults() -> None:
    """``use_workspace_homes`` and this checkout on ``sys.path``; trials in this process (no child process, and
    its TensorFlow start, per 3 trials) and plots for the best trial only: the embedded study is otherwise the
    product default. Both cut seconds that no compared method shares."""
    use_workspace_homes()
    os.environ.setdefault("HPO_TRAINER_ISOLATE_TRIALS", "false")
    os.environ.setdefault("HPO_REPORTER_TRIAL_PLOTS", "1")
    sys.path.insert(0, str(REPO_ROOT))


def print_load(moment: str) -> None:
    """The 1/5/15-minute load averages: other work on the machine skews the timings."""
    one, five, fifteen = os.getloadavg()
    print(f"[env] load average at {moment}: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)", flush=True)
