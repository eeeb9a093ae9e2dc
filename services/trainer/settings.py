"""Trainer settings, built once at the entry point (environment variables ``HPO_TRAINER_*``).

A trainer needs only the broker and the object store: it never reads the database.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_trainer_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HPO_TRAINER_", extra="ignore")

    trainer_id: str = Field(default_factory=_default_trainer_id, description="Unique per trainer process.")
    heartbeat_seconds: float = Field(
        default=3.0,
        gt=0,
        description="Seconds between heartbeats of a running trial, sent from the event loop (not the training "
        "thread), so a long epoch is not silence. The scheduler's lease (HPO_SCHEDULER_LEASE_SECONDS) must be "
        "several of these.",
    )
    verdict_timeout_seconds: float = Field(
        default=1.0,
        ge=0,
        description="With a pruner, how long a trial waits at an epoch's end for the scheduler's verdict "
        "before it goes on (and obeys a late prune at the next boundary).",
    )
    data_dir: Path | None = Field(
        default=None,
        description="The data folder: where datasets live; a trial's own data_dir is a path inside it.",
    )
    allow_absolute_data_dir: bool = Field(
        default=False,
        description="Accept a trial's data_dir outside the data folder (the embedded run, where the user names it).",
    )
    work_dir: Path = Field(default=Path("optimization_results/.hpo/work"), description="Scratch space for models.")
    allow_download: bool = Field(default=False, description="Download missing built-in datasets.")
    mode: Literal["keras", "synthetic"] = Field(
        default="keras", description="'synthetic' runs no TensorFlow: each trial sleeps and reports made-up metrics."
    )
    isolate_trials: bool = Field(
        default=True,
        description="Run trials in a child process, recycled every trials_per_process trials: memory stays flat "
        "and a crash (e.g. the out-of-memory killer) fails only the trial.",
    )
    trials_per_process: int = Field(default=3, ge=1, description="Trials a child process runs before it is replaced.")
    spare_lead_trials: int = Field(
        default=2,
        ge=0,
        description="With isolate_trials, start a spare child process (it imports TensorFlow and loads the dataset "
        "while the current child trains) once the current child has this many trials left, the running one "
        "included, so replacing a child costs no wall time; 0: no spare (replacing a child waits for the import).",
    )
    max_worker_rss_mb: float = Field(
        default=6144, gt=0, description="Replace the child process once it uses this much."
    )
    synthetic_seconds: float = Field(default=0.5, ge=0, description="Duration of one synthetic trial.")
    probe_samples: int = Field(default=128, ge=8, description="Validation samples used to measure telemetry.")
    histogram_bins: int = Field(default=20, ge=2)
    idle_exit_seconds: float = Field(
        default=0,
        ge=0,
        description="Exit (status 0) after this long with no trial, so a rented GPU pod stops itself (0: never).",
    )
    early_stopping_patience: int = Field(
        default=3, ge=0, description="Stop a trial after this many epochs without val_loss improvement (0: never)."
    )
