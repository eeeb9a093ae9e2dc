"""Search quality against KerasTuner: the best model's **test** accuracy for the same budget.

Four methods search the same tiny CNN space (``study_runs.TINY_CNN_SPACE``) on the same data splits, with
the same model-building function (``services.trainer.models.builder.build_model``) and the same budget of
training epochs (``--trials`` x ``--epochs``), ``--seeds`` seeds each, on the real MNIST sample and the
Fashion-MNIST CSV sample in ``../shared/datasets``:

- ``hpo_tpe_median``: an embedded hpo study, ``mode=simple sampler=tpe pruner=median`` (pruned trials
  train fewer epochs, so it may use less than the budget);
- ``hpo_random``: the same with ``sampler=random pruner=none``;
- ``kt_bayesian``: ``keras_tuner.BayesianOptimization`` with ``max_trials=--trials``, ``--epochs`` epochs;
- ``kt_hyperband``: ``keras_tuner.Hyperband`` with ``max_epochs=--epochs``, factor 3, and as many
  Hyperband iterations as fit the same epoch budget.

Every method selects on validation accuracy; the chosen model is then evaluated once on the test split
(hpo: the figure its trainer measured after training; KerasTuner: ``get_best_models(1)``). Splits are the
loader's (``load_dataset``, default seed): the samples hold no training images, so the loader splits
their test files into train/validation/test (15% / 15%), and ``--max-samples`` caps the training part.

Wall time: hpo from ``study.created`` to ``study.completed`` (search, telemetry, per-trial test evaluation;
the report is not counted, printed separately); KerasTuner's ``search`` plus loading the best model.

Headline: ``search_quality_delta_pp`` = hpo TPE mean test accuracy minus the best KerasTuner mean, in
percentage points (MNIST; Fashion-MNIST also printed), and ``search_wall_ratio`` = hpo TPE wall / the wall
of that KerasTuner method. Goal: delta >= 0 at ratio <= 1. Needs ``pip install 'hpo[bench]'``.

    .venv/bin/python benchmarks/search_quality.py [--seeds 3] [--trials 4] [--epochs 2] [--max-samples 600]
"""

from __future__ import annotations

import bench_env

bench_env.embedded_study_defaults()  # before TensorFlow is imported

import argparse
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from study_runs import DATASETS, TINY_CNN_SPACE, add_study_arguments, mean_spread, run_study

from contracts.enums import DatasetName, Mode, ParamType, PrunerName, SamplerName
from contracts.search_space import ParamSpec
from contracts.study import StudyConfig
from services.trainer.datasets import DatasetSplits
from services.trainer.datasets.registry import load_dataset
from services.trainer.models.builder import build_model
from services.trainer.models.params import TrialParams

METHODS = ("hpo_tpe_median", "hpo_random", "kt_bayesian", "kt_hyperband")
KT_METHODS = ("kt_bayesian", "kt_hyperband")


@dataclass(frozen=True)
class Run:
    method: str
    dataset: str
    seed: int
    test_accuracy: float
    wall_seconds: float
    epochs: int
    extra_seconds: float = 0.0


def _hp(hp: Any, spec: ParamSpec) -> Any:
    choices = list(spec.choices or [])
    if spec.type is ParamType.CATEGORICAL and all(isinstance(c, bool) for c in choices):
        return hp.Boolean(spec.name) if len(choices) > 1 else hp.Fixed(spec.name, choices[0])
    if spec.type is ParamType.CATEGORICAL:
        return hp.Choice(spec.name, choices)
    if spec.type is ParamType.INT:
        return hp.Int(spec.name, int(spec.low or 0), int(spec.high or 0))
    sampling = "log" if spec.log else "linear"
    return hp.Float(spec.name, float(spec.low or 0.0), float(spec.high or 0.0), sampling=sampling)


def _kt_hypermodel(splits: DatasetSplits, counter: list[int]) -> Any:
    import keras_tuner

    class EpochCounter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            counter[0] += 1

    class TinyCnn(keras_tuner.HyperModel):  # type: ignore[misc]  # keras_tuner ships no type hints
        def build(self, hp: Any) -> keras.Model:
            values = {spec.name: _hp(hp, spec) for spec in TINY_CNN_SPACE}
            return build_model(splits.modality, TrialParams(values), splits.input_shape, splits.num_classes).model

        def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), EpochCounter()]
            kwargs["verbose"] = 0
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    return TinyCnn()


def hyperband_epochs_per_iteration(max_epochs: int, factor: int = 3) -> int:
    """Epochs one Hyperband iteration trains, by keras_tuner's own bracket sizes (``tuners/hyperband.py``):
    a trial promoted to the next round continues from its checkpoint, so it trains only the difference."""
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs, brackets = epochs / factor, brackets + 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        previous = 0
        for round_num in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_num))
            reached = math.ceil(max_epochs / factor ** (bracket - round_num))
            total += size * (reached - previous)
            previous = reached
    return total


def hyperband_iterations(trials: int, epochs: int) -> int:
    """Hyperband iterations whose epochs come closest to the budget of ``trials * epochs`` (at least 1)."""
    return max(1, round(trials * epochs / hyperband_epochs_per_iteration(epochs)))


def run_kerastuner(method: str, splits: DatasetSplits, seed: int, trials: int, epochs: int, scratch: Path) -> Run:
    import keras_tuner

    keras.utils.set_random_seed(seed)
    counter = [0]
    hypermodel = _kt_hypermodel(splits, counter)
    common: dict[str, Any] = {
        "objective": "val_accuracy",
        "seed": seed,
        "directory": str(scratch),
        "project_name": f"{method}_{seed}",
        "overwrite": True,
    }

    class NoTensorBoard:
        """keras_tuner imports TensorBoard's HParams plugin for every trial, only to patch TensorBoard
        callbacks; there are none here, and TensorBoard is not installed."""

        def _configure_tensorboard_dir(self, callbacks: Any, trial: Any, execution: int = 0) -> None:
            return None

    class Bayesian(NoTensorBoard, keras_tuner.BayesianOptimization):  # type: ignore[misc]
        pass

    class Hyperband(NoTensorBoard, keras_tuner.Hyperband):  # type: ignore[misc]
        pass

    if method == "kt_bayesian":
        tuner: Any = Bayesian(hypermodel, max_trials=trials, **common)
    else:
        iterations = hyperband_iterations(trials, epochs)
        tuner = Hyperband(hypermodel, max_epochs=epochs, factor=3, hyperband_iterations=iterations, **common)
    x_train, y_train = splits.train.x.astype(np.float32), splits.train.y
    x_val, y_val = splits.validation.x.astype(np.float32), splits.validation.y
    started = time.perf_counter()
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, verbose=0)
    best = tuner.get_best_models(1)[0]
    wall = time.perf_counter() - started
    probabilities = best.predict(splits.test.x.astype(np.float32), batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == splits.test.y))
    keras.backend.clear_session()
    return Run(method, splits.name.value, seed, accuracy, wall, counter[0])


def run_hpo(method: str, dataset: DatasetName, args: argparse.Namespace, seed: int, scratch: Path) -> Run:
    sampler, pruner = (
        (SamplerName.TPE, PrunerName.MEDIAN) if method == "hpo_tpe_median" else (SamplerName.RANDOM, PrunerName.NONE)
    )
    config = StudyConfig(
        dataset=dataset,
        mode=Mode.SIMPLE,
        trials=args.trials,
        max_epochs=args.epochs,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        data_dir=str(args.data_dir),
        max_samples=args.max_samples,
        search_space=TINY_CNN_SPACE,
    )
    result = run_study(config, scratch / f"{method}_{dataset.value}_{seed}")
    accuracy = result.best.test_accuracy if result.best and result.best.test_accuracy is not None else float("nan")
    return Run(
        method,
        dataset.value,
        seed,
        accuracy,
        result.search_seconds,
        result.epochs_trained,
        extra_seconds=result.total_seconds - result.search_seconds,
    )


def _table(runs: list[Run], datasets: list[str]) -> dict[tuple[str, str], tuple[float, float, float, float]]:
    summary = {}
    print(f"\n{'dataset':<14}{'method':<17}{'test acc mean':>14}{'spread (sd)':>12}{'wall s mean':>12}"
          f"{'epochs':>8}{'report s':>10}  per seed test acc")  # fmt: skip
    for dataset in datasets:
        for method in METHODS:
            mine = [r for r in runs if r.dataset == dataset and r.method == method]
            if not mine:
                continue
            acc, sd = mean_spread([r.test_accuracy for r in mine])
            wall, _ = mean_spread([r.wall_seconds for r in mine])
            epochs, _ = mean_spread([float(r.epochs) for r in mine])
            extra, _ = mean_spread([r.extra_seconds for r in mine])
            summary[(dataset, method)] = (acc, sd, wall, epochs)
            seeds = " ".join(f"{r.test_accuracy:.4f}" for r in mine)
            report = f"{extra:10.1f}" if method.startswith("hpo") else f"{'-':>10}"
            print(f"{dataset:<14}{method:<17}{acc:14.4f}{sd:12.4f}{wall:12.1f}{epochs:8.1f}{report}  {seeds}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--datasets", default="mnist,fashion_mnist")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"sizes: seeds={args.seeds} trials={args.trials} epochs={args.epochs} budget={args.trials * args.epochs} "
          f"epochs per search, training split capped at {args.max_samples}")  # fmt: skip
    started = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="search_quality_") as tmp:
        scratch = Path(tmp)
        for name in datasets:
            dataset = DATASETS[name]
            splits = load_dataset(dataset, args.data_dir, max_samples=args.max_samples)
            print(f"{name}: train/validation/test = {len(splits.train)}/{len(splits.validation)}/{len(splits.test)}"
                  f" ({splits.test_source})", flush=True)  # fmt: skip
            for seed in range(args.seeds):
                for method in methods:
                    if method in KT_METHODS:
                        run = run_kerastuner(method, splits, seed, args.trials, args.epochs, scratch)
                    else:
                        run = run_hpo(method, dataset, args, seed, scratch)
                    runs.append(run)
                    print(f"  {name} seed {seed} {method}: test acc {run.test_accuracy:.4f}, "
                          f"{run.wall_seconds:.1f}s, {run.epochs} epochs", flush=True)  # fmt: skip
    summary = _table(runs, datasets)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; benchmark wall {time.perf_counter() - started:.0f}s")
    print_headlines(summary, datasets)


def print_headlines(summary: dict[tuple[str, str], tuple[float, float, float, float]], datasets: list[str]) -> None:
    """Per extra dataset first (suffixed), then the headline pair for the first dataset, last."""
    ordered = [*datasets[1:], *datasets[:1]]
    for name in ordered:
        kt = [(summary[(name, m)], m) for m in KT_METHODS if (name, m) in summary]
        if (name, "hpo_tpe_median") not in summary or not kt:
            continue
        best_kt, kt_method = max(kt, key=lambda item: item[0][0])
        tpe = summary[(name, "hpo_tpe_median")]
        suffix = "" if name == datasets[0] else f"_{name}"
        print(f"best_kerastuner{suffix}={kt_method}")
        print(f"search_quality_delta_pp{suffix}={(tpe[0] - best_kt[0]) * 100:.2f}")
        print(f"search_wall_ratio{suffix}={tpe[2] / best_kt[2]:.2f}")


if __name__ == "__main__":
    main()
