"""GPU study benchmark: the brief's headline case, MNIST, 15 trials x 15 epochs on 60,000 training images.

The full MNIST training images cannot be downloaded here, so the training set is built from the real
sample in ``--data-dir`` (default ``../shared/datasets/mnist``: the 10,000 official test images and their
labels): the last ``--test-images`` (2,000) real images are kept aside, untouched, as the test split; the
other 8,000 are the sources of ``--train-images`` (60,000) augmented training images (each a source image
shifted by up to 2 pixels, rotated by up to 12 degrees, with Gaussian pixel noise; seeded). They are
written as IDX files (``train-*`` and ``t10k-*``) into a scratch folder, which the trainer reads as MNIST
(it carves its validation split from the training images).

The trials run through the trainer's own ``ProcessTrialRunner`` (the product default: trials in a child
process, a warm spare beside it), with health telemetry on (``mode=health``), no pruning and early
stopping off, so every trial trains every epoch. The parameters are 15 seeded draws from the CNN search
space (1 to 3 conv blocks, 16 to 64 filters, batch 64 to 256, ...), the same every run.

While the trials run, a thread reads the GPUs every ``--sample-seconds`` with ``nvidia-smi``
(``services.trainer.gpu.read_gpus``, as the trainer's metrics do); each epoch gets the mean utilization and
the peak memory of the readings taken during it. Without ``nvidia-smi`` (a CPU machine) there are no
readings and the GPU figures print ``n/a``.

``gpu_study_seconds``: wall time from the runner's creation (its first child starts) to the last trial's
outcome; building the dataset is not counted. ``gpu_util_mean_pct``: the mean utilization over all epochs'
readings. The brief reports about 30 minutes for this study; the goal is under 3 minutes on one modern GPU.

    .venv/bin/python benchmarks/gpu_study.py            # 15 trials x 15 epochs x 60,000 images (a GPU machine)
    .venv/bin/python benchmarks/gpu_study.py --small    # 3 trials x 2 epochs x 2,000 images: a few minutes on CPU
"""

from __future__ import annotations

import bench_env

bench_env.use_workspace_homes()  # before TensorFlow is imported

import argparse
import gzip
import logging
import shutil
import statistics
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_env import REPO_ROOT, print_load
from scipy import ndimage

from contracts.enums import DatasetName, Mode, Objective
from contracts.events import TrialRequestedData
from contracts.telemetry import EpochTelemetry
from services.runtime.artifacts.local import LocalArtifactStore
from services.trainer.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from services.trainer.gpu import GpuReading, read_gpus
from services.trainer.isolation import ProcessTrialRunner
from services.trainer.outcome import OutcomeKind, TrialHooks, TrialJob, TrialOutcome
from services.trainer.settings import TrainerSettings

DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets" / "mnist"
STUDY_ID = "benchmark-gpu-study"
GOAL_SECONDS = 180.0
MAX_SHIFT = 2
MAX_ROTATION_DEGREES = 12.0
NOISE_STD = 8.0  # in pixel levels (0..255)
ROTATION_STEPS = 25  # images are rotated in batches, one batch per angle


@dataclass(frozen=True)
class StudyConfig:
    data_dir: Path
    trials: int
    epochs: int
    train_images: int
    test_images: int
    seed: int
    sample_seconds: float


@dataclass
class EpochRecord:
    trial: int
    epoch: int
    ended_at: float
    seconds: float
    telemetry_seconds: float
    val_accuracy: float | None
    util_pct: float | None = None
    memory_mb: float | None = None


@dataclass
class GpuSampler:
    """Reads the GPUs every ``interval`` seconds in a thread, keeping ``(time, readings)``."""

    interval: float
    nvidia_smi: str | None = field(default_factory=lambda: shutil.which("nvidia-smi"))
    samples: list[tuple[float, list[GpuReading]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        if self.nvidia_smi is not None:
            self._thread = threading.Thread(target=self._run, name="gpu-study-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        assert self.nvidia_smi is not None
        while not self._stop.is_set():
            readings = read_gpus(self.nvidia_smi)
            if readings:
                self.samples.append((time.perf_counter(), readings))
            self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[list[GpuReading]]:
        return [readings for at, readings in self.samples if start < at <= end]


def parse_args(argv: list[str] | None = None) -> StudyConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder holding the MNIST t10k files")
    parser.add_argument("--small", action="store_true", help="3 trials x 2 epochs x 2,000 images (CPU, CI)")
    parser.add_argument("--trials", type=int, default=None, help="trials (default 15; --small: 3)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default 15; --small: 2)")
    parser.add_argument("--train-images", type=int, default=None, help="augmented images (60,000; --small: 2,000)")
    parser.add_argument("--test-images", type=int, default=2000, help="real images kept aside as the test split")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sample-seconds", type=float, default=0.5, help="seconds between GPU readings")
    args = parser.parse_args(argv)
    small = args.small
    config = StudyConfig(
        data_dir=args.data_dir,
        trials=args.trials or (3 if small else 15),
        epochs=args.epochs or (2 if small else 15),
        train_images=args.train_images or (2000 if small else 60000),
        test_images=args.test_images,
        seed=args.seed,
        sample_seconds=args.sample_seconds,
    )
    if config.trials < 1 or config.epochs < 1 or config.train_images < 100 or not 100 <= config.test_images <= 5000:
        parser.error("need --trials >= 1, --epochs >= 1, --train-images >= 100 and --test-images in 100..5000")
    return config


def find_file(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise SystemExit(f"error: {folder} has no {stem}[.gz]: pass --data-dir, the folder holding the MNIST t10k files")


def augment(
    images: npt.NDArray[np.uint8], labels: npt.NDArray[np.uint8], count: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """``count`` images drawn from ``images``, each shifted, rotated and noised."""
    picks = rng.integers(0, len(images), size=count)
    out = images[picks].astype(np.float32)
    angles = rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, size=count)
    bins = np.linspace(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, ROTATION_STEPS)
    step = np.digitize(angles, bins)
    for index in np.unique(step):
        chosen = step == index
        angle = float(bins[min(index, ROTATION_STEPS - 1)])
        out[chosen] = ndimage.rotate(out[chosen], angle, axes=(1, 2), reshape=False, order=1, mode="constant")
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(count, 2))
    for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
            chosen = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            if chosen.any():
                out[chosen] = ndimage.shift(out[chosen], (0, dy, dx), order=0, mode="constant")
    out += rng.normal(0.0, NOISE_STD, size=out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), labels[picks]


def write_idx(path: Path, magic: int, array: npt.NDArray[np.uint8]) -> None:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", dim) for dim in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(header + array.tobytes())


def build_dataset(config: StudyConfig, target: Path) -> None:
    """The augmented training set and the held-out real test set, as MNIST IDX files in ``target``."""
    images = read_idx(find_file(config.data_dir, "t10k-images-idx3-ubyte"), IMAGES_MAGIC)
    labels = read_idx(find_file(config.data_dir, "t10k-labels-idx1-ubyte"), LABELS_MAGIC)
    sources, test = slice(0, len(images) - config.test_images), slice(len(images) - config.test_images, None)
    rng = np.random.default_rng(config.seed)
    train_x, train_y = augment(images[sources], labels[sources], config.train_images, rng)
    target.mkdir(parents=True, exist_ok=True)
    write_idx(target / "train-images-idx3-ubyte.gz", IMAGES_MAGIC, train_x)
    write_idx(target / "train-labels-idx1-ubyte.gz", LABELS_MAGIC, train_y)
    write_idx(target / "t10k-images-idx3-ubyte.gz", IMAGES_MAGIC, images[test])
    write_idx(target / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC, labels[test])


def trial_params(count: int, seed: int) -> list[dict[str, Any]]:
    """Seeded draws from the CNN search space, the same every run."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(count):
        draws.append(
            {
                "conv_blocks": int(rng.integers(1, 4)),
                "filters": int(rng.choice([16, 32, 64])),
                "kernel_size": 3,
                "pooling": str(rng.choice(["max", "average"])),
                "batch_norm": bool(rng.integers(0, 2)),
                "dropout": round(float(rng.uniform(0.0, 0.4)), 3),
                "dense_units": int(rng.choice([64, 128, 256])),
                "activation": str(rng.choice(["relu", "elu", "tanh"])),
                "optimizer": "adam",
                "learning_rate": round(float(10 ** rng.uniform(-3.5, -2.5)), 6),
                "batch_size": int(rng.choice([64, 128, 256])),
                "augmentation": False,
            }
        )
    return draws


def make_job(number: int, params: dict[str, Any], data_dir: Path, config: StudyConfig) -> TrialJob:
    request = TrialRequestedData(
        trial_number=number,
        params=params,
        dataset=DatasetName.MNIST,
        data_dir=str(data_dir),
        max_epochs=config.epochs,
        seed=config.seed + number,
        objective=Objective.VAL_ACCURACY,
        mode=Mode.HEALTH,
    )
    return TrialJob(study_id=STUDY_ID, trial_id=f"gpu-trial-{number:02d}", request=request)


def run_trial(runner: ProcessTrialRunner, job: TrialJob) -> tuple[TrialOutcome, list[EpochRecord]]:
    """One trial, with a record of each epoch as its telemetry arrives."""
    records: list[EpochRecord] = []
    number = job.request.trial_number

    def epoch_completed(telemetry: EpochTelemetry) -> None:
        ended = time.perf_counter()
        seconds, probe = telemetry.epoch_seconds, telemetry.telemetry_seconds
        records.append(EpochRecord(number, telemetry.epoch, ended, seconds, probe, telemetry.val_accuracy))

    hooks = TrialHooks(started=lambda a, c: None, epoch_completed=epoch_completed, control=lambda: None)
    return runner.run(job, hooks), records


def attach_gpu(records: list[EpochRecord], sampler: GpuSampler) -> None:
    for record in records:
        readings = sampler.between(record.ended_at - record.seconds - record.telemetry_seconds, record.ended_at)
        if readings:
            record.util_pct = statistics.mean(sum(r.utilization for r in rs) / len(rs) * 100 for rs in readings)
            record.memory_mb = max(sum(r.memory_used_bytes for r in rs) for rs in readings) / 2**20


def full_size(config: StudyConfig) -> bool:
    """The goal (under 3 minutes) is for the full study only."""
    return config.trials >= 15 and config.epochs >= 15 and config.train_images >= 60000


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    print_load("start")
    with tempfile.TemporaryDirectory(prefix="hpo-gpu-study-") as scratch_dir:
        scratch = Path(scratch_dir)
        started = time.perf_counter()
        build_dataset(config, scratch / "mnist")
        print(
            f"[data] {config.train_images} augmented training images from {10000 - config.test_images} real ones, "
            f"{config.test_images} real test images, in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        sampler = GpuSampler(config.sample_seconds)
        print(f"[gpu] nvidia-smi: {sampler.nvidia_smi or 'absent (no GPU readings)'}", flush=True)
        settings = TrainerSettings(
            trainer_id="gpu-study",
            work_dir=scratch / "work",
            early_stopping_patience=0,
            allow_absolute_data_dir=True,
        )
        records: list[EpochRecord] = []
        training_seconds = 0.0
        sampler.start()
        study_started = time.perf_counter()
        runner = ProcessTrialRunner(settings, LocalArtifactStore(scratch / "artifacts"))
        runner.prestart()
        try:
            for number, params in enumerate(trial_params(config.trials, config.seed)):
                trial_started = time.perf_counter()
                outcome, trial_records = run_trial(runner, make_job(number, params, scratch, config))
                if outcome.kind is not OutcomeKind.COMPLETED or outcome.metrics is None:
                    raise SystemExit(f"error: trial {number} did not complete: {outcome.kind} {outcome.reason}")
                training_seconds += outcome.metrics.training_seconds
                records += trial_records
                seconds = time.perf_counter() - trial_started
                print(
                    f"[trial {number:2d}] {outcome.epochs_trained} epochs in {seconds:.1f}s "
                    f"(fit {outcome.metrics.training_seconds:.1f}s) val_accuracy={outcome.metrics.val_accuracy:.4f} "
                    f"blocks={params['conv_blocks']} filters={params['filters']} batch={params['batch_size']}",
                    flush=True,
                )
        finally:
            study_seconds = time.perf_counter() - study_started
            runner.close()
            sampler.stop()
    attach_gpu(records, sampler)
    for record in records:
        util = f"{record.util_pct:.0f}%" if record.util_pct is not None else "n/a"
        memory = f"{record.memory_mb:.0f} MB" if record.memory_mb is not None else "n/a"
        print(
            f"[epoch] trial {record.trial:2d} epoch {record.epoch:2d}: {record.seconds:.2f}s "
            f"(telemetry {record.telemetry_seconds:.3f}s) gpu util {util}, memory {memory}"
        )
    print_load("end")
    utils = [r.util_pct for r in records if r.util_pct is not None]
    memories = [r.memory_mb for r in records if r.memory_mb is not None]
    lines = {
        "gpu_study_trials": str(config.trials),
        "gpu_study_epochs_per_trial": str(config.epochs),
        "gpu_study_train_images": str(config.train_images),
        "gpu_study_training_seconds": f"{training_seconds:.1f}",
        "gpu_study_telemetry_seconds": f"{sum(r.telemetry_seconds for r in records):.1f}",
        "gpu_study_epoch_seconds_median": f"{statistics.median(r.seconds for r in records):.2f}",
        "gpu_memory_max_mb": f"{max(memories):.0f}" if memories else "n/a",
        "gpu_study_goal_met": str(study_seconds < GOAL_SECONDS).lower() if full_size(config) else "n/a",
        "gpu_study_seconds": f"{study_seconds:.1f}",
        "gpu_util_mean_pct": f"{statistics.mean(utils):.1f}" if utils else "n/a",
    }
    for name, value in lines.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
