"""Shared by ``search_quality.py`` and ``health_signal.py``: the tiny CNN search space, the data, and one
embedded hpo study run to its end with what the benchmarks read back from its read model."""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from contracts.enums import DatasetName, ParamType
from contracts.events import Event, StudyCompleted
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from contracts.telemetry import EpochTelemetry, TrialMetrics
from services.cli.embedded import EmbeddedPaths, run_embedded
from services.cli.progress import StudyProgress
from services.runtime.db.engine import create_engine_for
from services.runtime.db.repository import ReadModelRepository

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"
DATASETS = {"mnist": DatasetName.MNIST, "fashion_mnist": DatasetName.FASHION_MNIST}

TINY_CNN_SPACE: list[ParamSpec] = [
    ParamSpec(name="conv_blocks", type=ParamType.INT, low=1, high=2),
    ParamSpec(name="filters", type=ParamType.CATEGORICAL, choices=[8, 16, 32]),
    ParamSpec(name="kernel_size", type=ParamType.CATEGORICAL, choices=[3]),
    ParamSpec(name="pooling", type=ParamType.CATEGORICAL, choices=["max"]),
    ParamSpec(name="batch_norm", type=ParamType.CATEGORICAL, choices=[False, True]),
    ParamSpec(name="dropout", type=ParamType.FLOAT, low=0.0, high=0.4),
    ParamSpec(name="dense_units", type=ParamType.CATEGORICAL, choices=[16, 32, 64, 128]),
    ParamSpec(name="activation", type=ParamType.CATEGORICAL, choices=["relu", "tanh"]),
    ParamSpec(name="optimizer", type=ParamType.CATEGORICAL, choices=["adam", "sgd"]),
    ParamSpec(name="learning_rate", type=ParamType.FLOAT, low=1e-4, high=3e-2, log=True),
    ParamSpec(name="batch_size", type=ParamType.CATEGORICAL, choices=[32, 64]),
    ParamSpec(name="augmentation", type=ParamType.CATEGORICAL, choices=[False]),
]
"""The one search space of both benchmarks (every method searches it): small CNNs that train in seconds."""


@dataclass(frozen=True)
class StudyResult:
    """What a benchmark reads back from one finished study."""

    search_seconds: float
    """From ``study.created`` to ``study.completed`` (every trial, its test evaluation, no report)."""
    total_seconds: float
    """The whole ``run_embedded``: services up, search, report and ZIP."""
    best: TrialMetrics | None
    best_number: int | None
    epochs_trained: int
    trials: int
    pruned: int
    alerts: int
    dead_fraction: float | None
    """Mean dead-unit share over the best trial's layers at its last epoch (probe batch)."""
    extra: dict[str, Any] = field(default_factory=dict)


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both benchmarks take: the data folder, and how many seeds, trials, epochs and samples."""
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-samples", type=int, default=600, help="cap on the training split")


def mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation (0 for a single value)."""
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _dead_fraction(telemetry: EpochTelemetry | None) -> float | None:
    if telemetry is None:
        return None
    dead = [layer.dead_fraction for layer in telemetry.layers if layer.dead_fraction is not None]
    return statistics.fmean(dead) if dead else None


def run_study(config: StudyConfig, output_dir: Path) -> StudyResult:
    """Run ``config`` as ``hpo optimize`` does (every service in this process), quietly."""
    study_id = uuid.uuid4().hex
    name = f"bench_{study_id[:8]}"
    progress = StudyProgress(console=Console(file=io.StringIO()), trials=config.trials, max_epochs=config.max_epochs)
    marks: dict[str, float] = {}
    handle = progress.handle

    def timed(event: Event) -> None:
        if isinstance(event, StudyCompleted):
            marks.setdefault("completed", time.perf_counter())
        handle(event)

    progress.handle = timed  # type: ignore[method-assign]  # the benchmark's own clock on the study's events
    started = time.perf_counter()
    asyncio.run(run_embedded(config, study_id, name, output_dir, progress))
    total = time.perf_counter() - started
    repository = ReadModelRepository(create_engine_for(EmbeddedPaths(output_dir.resolve()).read_models_url))
    try:
        best = repository.best_trial(study_id)
        trials = repository.list_trials(study_id, limit=1000)
        alerts = [a for a in repository.alerts_for_study(study_id) if best is not None and a.trial_id == best.trial_id]
        last = None
        if best is not None:
            epochs = [e for e in repository.epochs_for_study(study_id) if e.trial_id == best.trial_id]
            if epochs:
                last = EpochTelemetry.model_validate(max(epochs, key=lambda e: e.epoch).telemetry)
    finally:
        repository.engine.dispose()
    metrics = TrialMetrics.model_validate(best.metrics) if best is not None and best.metrics else None
    return StudyResult(
        search_seconds=marks.get("completed", started + total) - started,
        total_seconds=total,
        best=metrics,
        best_number=best.number if best is not None else None,
        epochs_trained=sum(t.epochs_trained for t in trials),
        trials=len(trials),
        pruned=sum(1 for t in trials if t.state == "pruned"),
        alerts=len(alerts),
        dead_fraction=_dead_fraction(last),
    )
