"""Trainer overhead benchmark: what health telemetry costs, and whether memory grows from trial to trial.

Two measurements in one run, on the real MNIST sample (``--data-dir``, default ``../shared/datasets``):

1. **Telemetry overhead.** One fixed CNN is trained (a) with a plain ``model.fit`` on the trainer's own
   tf.data pipeline (``build_inputs`` + ``build_model``, ``verbose=0``, ``shuffle=False``) and (b) through
   ``KerasTrialRunner.run`` with full health telemetry (hooks that only collect the epoch telemetry, no
   control requests, early stopping off, so both paths train every epoch). The runs alternate plain,
   runner, plain, runner ... with the same seed, after one discarded warm-up run of each.
   Only *training* time is compared, never model saving or test evaluation:

   - plain: the wall time of the ``fit`` call;
   - runner: ``outcome.metrics.training_seconds``, the wall time of its ``fit`` call, which includes every
     epoch's telemetry (reported separately as the sum of the epochs' ``telemetry_seconds``).

   ``telemetry_overhead_pct = (median runner seconds - median plain seconds) / median plain seconds * 100``.
   A wall-clock cross-check is printed too: from the plain ``fit`` call to its last epoch end, versus
   from the runner's ``started`` hook to its last ``epoch_completed`` hook (which also covers building
   the telemetry probe model and anything between epochs).

   The same comparison runs a second time with a CPU hog beside it (a busy-looping Python process, one
   core's worth of contention on this 2-core machine): ``telemetry_overhead_pct_contended``, and the
   probe's own seconds per epoch with and without the hog (``telemetry_seconds_per_epoch[_contended]``).

2. **Memory growth.** ``--memory-trials`` (default 20) small trials (``max_samples``, one epoch, params
   alternating, e.g. 16/32 filters) run back to back through one trainer's runner, twice:

   - ``isolated``: the product default, ``ProcessTrialRunner``: trials run in a child process that is
     replaced every ``trials_per_process`` trials. The figure is the RSS of the process that trained
     (reported by the child at the end of each trial); the trainer's own process does not load
     TensorFlow and stays flat.
   - ``in_process``: ``KerasTrialRunner`` in this process (``isolate_trials=false``), which calls
     ``release_trial_memory`` after each trial; shown for comparison (Keras keeps compiled functions
     alive after ``clear_session``, keras-team/keras#17458).

   After each trial the RSS of this process and all its children together is read too
   (``isolated_total_rss_mb_*``: the training child, the warm spare and a retiring child included).

   ``rss_growth_pct_20_trials = (rss after the last trial - rss after trial 1) / rss after trial 1 * 100``
   for the isolated runner; the peak over all trials is printed too. The baseline is the RSS *after*
   trial 1, so TensorFlow's one-time initialization (kernels, thread pools, the loaded dataset) is excluded.

Goals: ``telemetry_overhead_pct`` under 5 (with and without contention) and ``rss_growth_pct_20_trials``
under 10.

The output ends with ``name=value`` lines, the last three being ``telemetry_overhead_pct=``,
``telemetry_overhead_pct_contended=`` and ``rss_growth_pct_<N>_trials=``. Run with nothing else heavy on
the machine::

    .venv/bin/python benchmarks/trainer_overhead.py [--repetitions 3] [--epochs 3] [--memory-trials 20]
"""

from __future__ import annotations

import bench_env

bench_env.use_workspace_homes()  # before TensorFlow is imported

import argparse
import contextlib
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import psutil
from bench_env import REPO_ROOT, print_load

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.control import ControlRequest
from services.trainer.dataset_cache import DatasetCache
from services.trainer.datasets import DatasetSplits
from services.trainer.isolation import ProcessTrialRunner
from services.trainer.memory import release_trial_memory, rss_mb
from services.trainer.models.builder import build_model
from services.trainer.models.params import TrialParams
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.pipeline import build_inputs
from services.trainer.settings import TrainerSettings
from services.trainer.training import KerasTrialRunner

DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"
DATASET = DatasetName.MNIST
STUDY_ID = "benchmark-trainer-overhead"
OVERHEAD_GOAL_PCT = 5.0
GROWTH_GOAL_PCT = 10.0

CNN_PARAMS: dict[str, Any] = {
    "conv_blocks": 2,
    "filters": 32,
    "kernel_size": 3,
    "pooling": "max",
    "batch_norm": False,
    "dropout": 0.2,
    "dense_units": 64,
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 64,
    "augmentation": False,
}

# Cycled through by the memory trials, so that consecutive trials build different graphs.
MEMORY_VARIANTS: tuple[dict[str, Any], ...] = (
    {"filters": 16, "dense_units": 64},
    {"filters": 32, "dense_units": 32},
    {"filters": 16, "dense_units": 32, "batch_norm": True},
    {"filters": 32, "dense_units": 64, "activation": "tanh"},
)


@dataclass(frozen=True)
class BenchConfig:
    data_dir: Path
    repetitions: int
    epochs: int
    seed: int
    memory_trials: int
    memory_max_samples: int


@dataclass(frozen=True)
class OverheadRun:
    """One training run of the overhead comparison; repetition 0 is the discarded warm-up."""

    path: str  # "plain" or "runner"
    repetition: int
    epoch_seconds: float  # sum of per-epoch times (fit + validation), telemetry excluded
    telemetry_seconds: float  # sum of per-epoch telemetry times (0 for plain)
    wall_seconds: float  # plain: fit call -> last epoch end; runner: started hook -> last epoch hook
    epochs: int
    val_accuracy: float | None

    @property
    def training_seconds(self) -> float:
        return self.epoch_seconds + self.telemetry_seconds


@dataclass(frozen=True)
class MemoryTrial:
    index: int
    params: dict[str, Any]
    rss_mb: float
    seconds: float
    total_rss_mb: float  # this process and every child process (trial children, warm or retiring) together
    processes: int


def total_rss_mb() -> tuple[float, int]:
    """RSS of this process plus all its descendants, and how many processes that is."""
    me = psutil.Process()
    total, count = me.memory_info().rss, 1
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total, count = total + child.memory_info().rss, count + 1
    return total / 2**20, count


class EpochTimer(keras.callbacks.Callback):
    """Per-epoch wall time, measured like ``EpochReporter`` (epoch begin to epoch end)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.last_epoch_at = 0.0
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.last_epoch_at = time.perf_counter()
        self.seconds.append(self.last_epoch_at - self._started)


class TelemetryRecorder:
    """Trial hooks that only keep the epoch telemetry (and when the trial started and last reported)."""

    def __init__(self) -> None:
        self.epochs: list[EpochTelemetry] = []
        self.started_at = 0.0
        self.last_epoch_at = 0.0

    def started(self, architecture: str, parameter_count: int) -> None:
        self.started_at = time.perf_counter()

    def epoch_completed(self, telemetry: EpochTelemetry) -> None:
        self.epochs.append(telemetry)
        self.last_epoch_at = time.perf_counter()

    def control(self) -> ControlRequest | None:
        return None

    def hooks(self) -> TrialHooks:
        return TrialHooks(started=self.started, epoch_completed=self.epoch_completed, control=self.control)


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder holding mnist/")
    parser.add_argument("--repetitions", type=int, default=3, help="measured runs of each path (after a warm-up)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per overhead run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--memory-trials", type=int, default=20, help="consecutive trials of the memory check")
    parser.add_argument("--memory-max-samples", type=int, default=500, help="training samples per memory trial")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.epochs < 1 or args.memory_trials < 2:
        parser.error("need --repetitions >= 1, --epochs >= 1 and --memory-trials >= 2")
    return BenchConfig(
        data_dir=args.data_dir,
        repetitions=args.repetitions,
        epochs=args.epochs,
        seed=args.seed,
        memory_trials=args.memory_trials,
        memory_max_samples=args.memory_max_samples,
    )


def make_settings(scratch: Path) -> TrainerSettings:
    # The benchmark names the data folder with an absolute path, as the embedded run does.
    return TrainerSettings(
        work_dir=scratch / "work", early_stopping_patience=0, allow_download=False, allow_absolute_data_dir=True
    )


def make_job(
    trial_number: int, params: dict[str, Any], config: BenchConfig, *, epochs: int, max_samples: int | None
) -> TrialJob:
    request = TrialRequestedData(
        trial_number=trial_number,
        params=params,
        dataset=DATASET,
        data_dir=str(config.data_dir),
        max_samples=max_samples,
        max_epochs=epochs,
        seed=config.seed,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.HEALTH,
    )
    return TrialJob(study_id=STUDY_ID, trial_id=f"trial-{trial_number:04d}", request=request)


def require_completed(outcome: TrialOutcome, expected_epochs: int) -> None:
    if outcome.kind is not OutcomeKind.COMPLETED or outcome.metrics is None:
        raise RuntimeError(f"benchmark trial did not complete: {outcome.kind} {outcome.reason}")
    if outcome.epochs_trained != expected_epochs:
        raise RuntimeError(f"benchmark trial trained {outcome.epochs_trained} of {expected_epochs} epochs")


def run_plain(splits: DatasetSplits, config: BenchConfig, settings: TrainerSettings, repetition: int) -> OverheadRun:
    """The same steps as ``KerasTrialRunner._train`` up to ``fit``, without telemetry or hooks."""
    try:
        keras.utils.set_random_seed(config.seed)
        params = TrialParams(CNN_PARAMS)
        inputs = build_inputs(splits, params, seed=config.seed, probe_samples=settings.probe_samples)
        built = build_model(splits.modality, params, inputs.input_shape, splits.num_classes)
        timer = EpochTimer()
        started = time.perf_counter()
        history = built.model.fit(
            inputs.train,
            validation_data=inputs.validation,
            epochs=config.epochs,
            shuffle=False,
            verbose=0,
            callbacks=[timer],
        )
        fit_seconds = time.perf_counter() - started  # measured like the runner's metrics.training_seconds
        wall = timer.last_epoch_at - started  # like the runner's hooks: fit's teardown after the last epoch is left out
        val_accuracy = history.history.get("val_accuracy", [None])[-1]
        return OverheadRun("plain", repetition, fit_seconds, 0.0, wall, len(timer.seconds), val_accuracy)
    finally:
        release_trial_memory()  # the runner does the same after each trial


def run_trainer(runner: KerasTrialRunner, config: BenchConfig, repetition: int, trial_number: int) -> OverheadRun:
    recorder = TelemetryRecorder()
    job = make_job(trial_number, CNN_PARAMS, config, epochs=config.epochs, max_samples=None)
    outcome = runner.run(job, recorder.hooks())
    require_completed(outcome, config.epochs)
    assert outcome.metrics is not None
    telemetry_seconds = sum(epoch.telemetry_seconds for epoch in recorder.epochs)
    wall = recorder.last_epoch_at - recorder.started_at
    return OverheadRun(
        "runner",
        repetition,
        outcome.metrics.training_seconds - telemetry_seconds,  # fit's wall time includes the telemetry
        telemetry_seconds,
        wall,
        outcome.epochs_trained,
        outcome.metrics.val_accuracy,
    )


def describe_run(run: OverheadRun) -> str:
    label = "warm-up" if run.repetition == 0 else f"rep {run.repetition}"
    accuracy = f"{run.val_accuracy:.4f}" if run.val_accuracy is not None else "n/a"
    return (
        f"[overhead] {label:<7} {run.path:<6} training={run.training_seconds:7.2f}s "
        f"(epochs {run.epoch_seconds:.2f}s + telemetry {run.telemetry_seconds:.2f}s, {run.epochs} epochs) "
        f"wall={run.wall_seconds:.2f}s val_accuracy={accuracy}"
    )


def measure_overhead(config: BenchConfig, cache: DatasetCache, scratch: Path, label: str) -> list[OverheadRun]:
    """Warm-up plain + runner, then ``repetitions`` interleaved pairs; returns every run, warm-ups included."""
    settings = make_settings(scratch)
    runner = KerasTrialRunner(settings, LocalArtifactStore(scratch / f"artifacts-overhead-{label}"), cache)
    splits = cache.get(DATASET, config.data_dir, None)
    print(
        f"[overhead:{label}] {DATASET.value}: {len(splits.train)} train / {len(splits.validation)} validation "
        f"samples, {config.epochs} epochs, warm-up + {config.repetitions} repetitions of each path",
        flush=True,
    )
    runs: list[OverheadRun] = []
    for repetition in range(config.repetitions + 1):
        for run in (
            run_plain(splits, config, settings, repetition),
            run_trainer(runner, config, repetition, trial_number=repetition),
        ):
            print(f"[{label}] {describe_run(run)}", flush=True)
            runs.append(run)
    return runs


HOG_CODE = "while True:\n    pass\n"


@contextlib.contextmanager
def cpu_hog() -> Iterator[int]:
    """A busy-looping Python process beside the benchmark (one core's worth of contention), killed after."""
    hog = subprocess.Popen([sys.executable, "-c", HOG_CODE])
    try:
        yield hog.pid
    finally:
        hog.kill()
        hog.wait(timeout=10)


def overhead_pct(runs: list[OverheadRun]) -> float:
    return pct_change(median_of(runs, "runner", "training_seconds"), median_of(runs, "plain", "training_seconds"))


def telemetry_share_pct(runs: list[OverheadRun]) -> float:
    """The probe's own seconds as a share of the runner's training seconds, per run, the median: measured
    inside one run, so unlike ``overhead_pct`` (two runs' difference) it does not carry the noise of a second run."""
    shares = [r.telemetry_seconds / r.training_seconds * 100 for r in runs if r.path == "runner" and r.repetition > 0]
    return statistics.median(shares)


def telemetry_per_epoch(runs: list[OverheadRun]) -> float:
    measured = [run for run in runs if run.path == "runner" and run.repetition > 0]
    return sum(r.telemetry_seconds for r in measured) / sum(r.epochs for r in measured)


def memory_params(index: int) -> dict[str, Any]:
    return CNN_PARAMS | MEMORY_VARIANTS[index % len(MEMORY_VARIANTS)]


def measure_memory(
    config: BenchConfig, cache: DatasetCache, scratch: Path, *, isolated: bool
) -> tuple[float, list[MemoryTrial]]:
    """RSS before the first trial, and after each of ``memory_trials`` one-epoch trials through one runner."""
    label = "isolated" if isolated else "in_process"
    settings = make_settings(scratch)
    artifacts = LocalArtifactStore(scratch / f"artifacts-memory-{label}")
    process_runner = ProcessTrialRunner(settings, artifacts) if isolated else None
    runner = process_runner or KerasTrialRunner(settings, artifacts, cache)
    rss_before = rss_mb()
    print(f"[memory:{label}] rss of this process before trial 1: {rss_before:.1f} MB", flush=True)
    trials: list[MemoryTrial] = []
    for index in range(config.memory_trials):
        params = memory_params(index)
        job = make_job(1000 + index, params, config, epochs=1, max_samples=config.memory_max_samples)
        started = time.perf_counter()
        outcome = runner.run(job, TelemetryRecorder().hooks())
        require_completed(outcome, 1)
        rss = process_runner.last_child_rss_mb if process_runner is not None else rss_mb()
        seconds = time.perf_counter() - started
        trial = MemoryTrial(index + 1, params, rss, seconds, *total_rss_mb())
        trials.append(trial)
        change = (trial.rss_mb - trials[0].rss_mb) / trials[0].rss_mb * 100
        varied = " ".join(f"{k}={v}" for k, v in MEMORY_VARIANTS[index % len(MEMORY_VARIANTS)].items())
        print(
            f"[memory:{label}] trial {trial.index:2d}/{config.memory_trials} {varied:<45} "
            f"rss={trial.rss_mb:8.1f} MB ({change:+.2f}% vs trial 1) {trial.seconds:.1f}s "
            f"all={trial.total_rss_mb:.0f} MB in {trial.processes} processes",
            flush=True,
        )
    runner.close()
    return rss_before, trials


def pct_change(new: float, base: float) -> float:
    return (new - base) / base * 100


def median_of(runs: list[OverheadRun], path: str, value: str) -> float:
    measured = [float(getattr(run, value)) for run in runs if run.path == path and run.repetition > 0]
    return statistics.median(measured)


def rss_slope_mb_per_trial(trials: list[MemoryTrial]) -> float:
    """Least-squares slope of RSS over trials 2..N: a steady leak shows as a positive slope."""
    points = [(float(t.index), t.rss_mb) for t in trials[1:]]
    if len(points) < 2:
        return 0.0
    return statistics.linear_regression([x for x, _ in points], [y for _, y in points]).slope


def print_overhead_table(runs: list[OverheadRun]) -> None:
    plain = {run.repetition: run for run in runs if run.path == "plain" and run.repetition > 0}
    runner = {run.repetition: run for run in runs if run.path == "runner" and run.repetition > 0}
    header = f"{'rep':>6} {'plain_s':>9} {'runner_epochs_s':>16} {'telemetry_s':>12} {'runner_s':>9} {'overhead_%':>11}"
    print()
    print(header)
    print("-" * len(header))
    for repetition in sorted(plain):
        p, r = plain[repetition], runner[repetition]
        print(
            f"{repetition:>6} {p.training_seconds:>9.2f} {r.epoch_seconds:>16.2f} {r.telemetry_seconds:>12.2f} "
            f"{r.training_seconds:>9.2f} {pct_change(r.training_seconds, p.training_seconds):>11.2f}"
        )
    plain_median = median_of(runs, "plain", "training_seconds")
    runner_median = median_of(runs, "runner", "training_seconds")
    print(
        f"{'median':>6} {plain_median:>9.2f} {median_of(runs, 'runner', 'epoch_seconds'):>16.2f} "
        f"{median_of(runs, 'runner', 'telemetry_seconds'):>12.2f} {runner_median:>9.2f} "
        f"{pct_change(runner_median, plain_median):>11.2f}"
    )
    print()


def print_results(
    runs: list[OverheadRun], contended: list[OverheadRun], rss_before: float, trials: list[MemoryTrial]
) -> None:
    plain_median = median_of(runs, "plain", "training_seconds")
    runner_median = median_of(runs, "runner", "training_seconds")
    plain_wall = median_of(runs, "plain", "wall_seconds")
    runner_wall = median_of(runs, "runner", "wall_seconds")
    overhead = pct_change(runner_median, plain_median)
    growth = pct_change(trials[-1].rss_mb, trials[0].rss_mb)
    late_rss = statistics.median(t.rss_mb for t in trials[-5:])  # less sensitive to one noisy reading
    lines = {
        "plain_fit_seconds_median": f"{plain_median:.3f}",
        "trainer_seconds_median": f"{runner_median:.3f}",
        "trainer_epoch_seconds_median": f"{median_of(runs, 'runner', 'epoch_seconds'):.3f}",
        "telemetry_seconds_per_epoch": f"{telemetry_per_epoch(runs):.4f}",
        "telemetry_seconds_per_epoch_contended": f"{telemetry_per_epoch(contended):.4f}",
        "telemetry_share_pct": f"{telemetry_share_pct(runs):.2f}",
        "telemetry_share_pct_contended": f"{telemetry_share_pct(contended):.2f}",
        "plain_fit_seconds_median_contended": f"{median_of(contended, 'plain', 'training_seconds'):.3f}",
        "trainer_seconds_median_contended": f"{median_of(contended, 'runner', 'training_seconds'):.3f}",
        "plain_fit_wall_seconds_median": f"{plain_wall:.3f}",
        "trainer_wall_seconds_median": f"{runner_wall:.3f}",
        "telemetry_overhead_wall_pct": f"{pct_change(runner_wall, plain_wall):.2f}",
        "rss_mb_before_first": f"{rss_before:.1f}",
        "rss_mb_first": f"{trials[0].rss_mb:.1f}",
        "rss_mb_last": f"{trials[-1].rss_mb:.1f}",
        "rss_mb_max": f"{max(t.rss_mb for t in trials):.1f}",
        "rss_growth_pct_peak": f"{pct_change(max(t.rss_mb for t in trials), trials[0].rss_mb):.2f}",
        "rss_mb_per_trial_slope": f"{rss_slope_mb_per_trial(trials):.2f}",
        "rss_growth_pct_median_last5": f"{pct_change(late_rss, trials[0].rss_mb):.2f}",
        "isolated_total_rss_mb_first": f"{trials[0].total_rss_mb:.1f}",
        "isolated_total_rss_mb_max": f"{max(t.total_rss_mb for t in trials):.1f}",
        "isolated_seconds_per_trial_mean": f"{statistics.mean(t.seconds for t in trials):.2f}",
        "isolated_seconds_per_trial_max": f"{max(t.seconds for t in trials):.2f}",
        "overhead_goal_met": str(overhead < OVERHEAD_GOAL_PCT).lower(),
        "growth_goal_met": str(growth < GROWTH_GOAL_PCT).lower(),
        "telemetry_overhead_pct": f"{overhead:.2f}",
        "telemetry_overhead_pct_contended": f"{overhead_pct(contended):.2f}",
        f"rss_growth_pct_{len(trials)}_trials": f"{growth:.2f}",
    }
    for name, value in lines.items():
        print(f"{name}={value}")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    cache = DatasetCache()
    print_load("start")
    with tempfile.TemporaryDirectory(prefix="hpo-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        runs = measure_overhead(config, cache, scratch, "idle")
        with cpu_hog() as hog:
            print(f"[overhead:contended] a CPU hog (pid {hog}) runs beside the next runs", flush=True)
            print_load("contended start")
            contended = measure_overhead(config, cache, scratch, "contended")
        _, in_process = measure_memory(config, cache, scratch, isolated=False)
        rss_before, trials = measure_memory(config, cache, scratch, isolated=True)
    print_load("end")
    print_overhead_table(runs)
    print("contended (a CPU hog beside the runs):")
    print_overhead_table(contended)
    print(f"in_process_rss_mb_first={in_process[0].rss_mb:.1f}")
    print(f"in_process_rss_mb_last={in_process[-1].rss_mb:.1f}")
    print(f"in_process_rss_growth_pct={pct_change(in_process[-1].rss_mb, in_process[0].rss_mb):.2f}")
    print_results(runs, contended, rss_before, trials)


if __name__ == "__main__":
    main()
