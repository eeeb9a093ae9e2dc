"""Does health-aware search help? simple vs health vs pareto mode, and median vs median+health pruning.

On the real MNIST sample and the Fashion-MNIST CSV sample in ``../shared/datasets``, with the same data
splits, search space (``study_runs.TINY_CNN_SPACE``), seeds and budget (``--trials`` x ``--epochs``), each
seed runs four embedded hpo studies (TPE):

- ``simple``: ``mode=simple pruner=median`` (the objective alone);
- ``health``: ``mode=health pruner=median health_weight=--health-weight``;
- ``pareto``: ``mode=pareto`` (the knee of the front is the chosen model; Optuna cannot prune a
  multi-objective study, so it trains every epoch);
- ``median+health``: ``mode=simple pruner=median+health`` (to compare with ``simple``'s median pruning).

For each study's chosen model (the best trial; pareto: the knee): test accuracy, parameter count, health
alerts raised on it, mean dead-unit fraction over its layers (last epoch, probe batch), accuracy under the
shifts of the test evaluation (mean of Gaussian noise, shift and rotation) and ECE; for each study the
epochs trained in total. Every test figure comes from the held-out split the loader made (the samples
hold no training images) and is never used for selection.

Headline (means over seeds, then over the datasets): ``health_acc_delta_pp`` (health minus simple test
accuracy, percentage points), ``health_param_ratio`` (health / simple parameters), ``health_robust_delta_pp``
(health minus simple mean shifted accuracy), the same three for pareto, and for pruning
``pruning_epochs_ratio`` (median+health / median epochs) and ``pruning_acc_delta_pp``. Goal: health within
0.5 pp of simple with at least 30% fewer parameters or a better shifted accuracy (``health_goal_met``).

    .venv/bin/python benchmarks/health_signal.py [--seeds 3] [--trials 4] [--epochs 2] [--max-samples 600]
"""

from __future__ import annotations

import bench_env

bench_env.embedded_study_defaults()  # before TensorFlow is imported

import argparse
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from study_runs import DATASETS, TINY_CNN_SPACE, StudyResult, add_study_arguments, mean_spread, run_study

from contracts.enums import Mode, PrunerName, SamplerName
from contracts.study import StudyConfig

ARMS: dict[str, tuple[Mode, PrunerName]] = {
    "simple": (Mode.SIMPLE, PrunerName.MEDIAN),
    "health": (Mode.HEALTH, PrunerName.MEDIAN),
    "pareto": (Mode.PARETO, PrunerName.MEDIAN),
    "median+health": (Mode.SIMPLE, PrunerName.MEDIAN_HEALTH),
}
ACC_TOLERANCE_PP = 0.5
PARAM_SAVING = 0.30


@dataclass(frozen=True)
class Row:
    dataset: str
    arm: str
    seed: int
    test_accuracy: float
    parameters: float
    alerts: float
    dead_fraction: float
    shifted_accuracy: float
    ece: float
    epochs: float
    wall: float


def _row(dataset: str, arm: str, seed: int, result: StudyResult) -> Row:
    best = result.best
    nan = float("nan")
    shifted = statistics.fmean(best.test_robustness.values()) if best and best.test_robustness else nan
    return Row(
        dataset=dataset,
        arm=arm,
        seed=seed,
        test_accuracy=best.test_accuracy if best and best.test_accuracy is not None else nan,
        parameters=float(best.parameter_count) if best else nan,
        alerts=float(result.alerts),
        dead_fraction=result.dead_fraction if result.dead_fraction is not None else nan,
        shifted_accuracy=shifted,
        ece=best.test_ece if best and best.test_ece is not None else nan,
        epochs=float(result.epochs_trained),
        wall=result.search_seconds,
    )


FIELDS = ("test_accuracy", "parameters", "alerts", "dead_fraction", "shifted_accuracy", "ece", "epochs", "wall")


def _means(rows: list[Row]) -> dict[str, float]:
    return {name: mean_spread([getattr(r, name) for r in rows])[0] for name in FIELDS}


def print_table(rows: list[Row], datasets: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    print(f"\n{'dataset':<14}{'arm':<15}{'test acc':>9}{'sd':>7}{'params':>9}{'alerts':>7}{'dead':>7}"
          f"{'shifted':>9}{'ECE':>7}{'epochs':>8}{'wall s':>8}  per seed test acc")  # fmt: skip
    table = {}
    for dataset in datasets:
        for arm in ARMS:
            mine = [r for r in rows if r.dataset == dataset and r.arm == arm]
            if not mine:
                continue
            m = _means(mine)
            sd = mean_spread([r.test_accuracy for r in mine])[1]
            table[(dataset, arm)] = m
            seeds = " ".join(f"{r.test_accuracy:.4f}" for r in mine)
            print(f"{dataset:<14}{arm:<15}{m['test_accuracy']:9.4f}{sd:7.4f}{m['parameters']:9.0f}{m['alerts']:7.2f}"
                  f"{m['dead_fraction']:7.3f}{m['shifted_accuracy']:9.4f}{m['ece']:7.4f}{m['epochs']:8.1f}"
                  f"{m['wall']:8.1f}  {seeds}")  # fmt: skip
    return table


def _across(table: dict[tuple[str, str], dict[str, float]], datasets: list[str], arm: str, field: str) -> float:
    return statistics.fmean(table[(d, arm)][field] for d in datasets if (d, arm) in table)


def print_headlines(table: dict[tuple[str, str], dict[str, float]], datasets: list[str]) -> None:
    def delta_pp(arm: str, field: str, base: str = "simple") -> float:
        return (_across(table, datasets, arm, field) - _across(table, datasets, base, field)) * 100

    def ratio(arm: str, field: str, base: str = "simple") -> float:
        return _across(table, datasets, arm, field) / _across(table, datasets, base, field)

    for name in datasets:
        if (name, "health") in table and (name, "simple") in table:
            h, s = table[(name, "health")], table[(name, "simple")]
            print(f"health_acc_delta_pp_{name}={(h['test_accuracy'] - s['test_accuracy']) * 100:.2f}")
            print(f"health_param_ratio_{name}={h['parameters'] / s['parameters']:.2f}")
            print(f"health_robust_delta_pp_{name}={(h['shifted_accuracy'] - s['shifted_accuracy']) * 100:.2f}")
    arms = {arm for _, arm in table}
    if "pareto" in arms:
        print(f"pareto_acc_delta_pp={delta_pp('pareto', 'test_accuracy'):.2f}")
        print(f"pareto_param_ratio={ratio('pareto', 'parameters'):.2f}")
        print(f"pareto_robust_delta_pp={delta_pp('pareto', 'shifted_accuracy'):.2f}")
    if "median+health" in arms:
        print(f"pruning_epochs_ratio={ratio('median+health', 'epochs'):.2f}")
        print(f"pruning_acc_delta_pp={delta_pp('median+health', 'test_accuracy'):.2f}")
    if not {"simple", "health"} <= arms:
        print("health_goal_met=n/a (the headline compares the simple and health arms: run both)")
        return
    acc, params, robust = (
        delta_pp("health", "test_accuracy"),
        ratio("health", "parameters"),
        delta_pp("health", "shifted_accuracy"),
    )
    met = acc >= -ACC_TOLERANCE_PP and (params <= 1 - PARAM_SAVING or robust > 0)
    print(f"health_goal_met={'yes' if met else 'no'}")
    print(f"health_acc_delta_pp={acc:.2f}")
    print(f"health_param_ratio={params:.2f}")
    print(f"health_robust_delta_pp={robust:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--health-weight", type=float, default=0.3)
    parser.add_argument("--datasets", default="mnist,fashion_mnist")
    parser.add_argument("--arms", default=",".join(ARMS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(f"sizes: seeds={args.seeds} trials={args.trials} epochs={args.epochs} training split capped at "
          f"{args.max_samples}, health_weight={args.health_weight}")  # fmt: skip
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="health_signal_") as tmp:
        for name in datasets:
            for seed in range(args.seeds):
                for arm in arms:
                    mode, pruner = ARMS[arm]
                    config = StudyConfig(
                        dataset=DATASETS[name],
                        mode=mode,
                        trials=args.trials,
                        max_epochs=args.epochs,
                        sampler=SamplerName.TPE,
                        pruner=pruner,
                        health_weight=args.health_weight,
                        seed=seed,
                        data_dir=str(args.data_dir),
                        max_samples=args.max_samples,
                        search_space=TINY_CNN_SPACE,
                    )
                    result = run_study(config, Path(tmp) / f"{name}_{arm}_{seed}")
                    row = _row(name, arm, seed, result)
                    rows.append(row)
                    done = f"{row.epochs:.0f} epochs ({result.pruned} pruned), {row.wall:.1f}s"
                    print(f"  {name} seed {seed} {arm}: test acc {row.test_accuracy:.4f}, {row.parameters:.0f} params, "
                          f"{done}", flush=True)  # fmt: skip
    table = print_table(rows, datasets)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}; benchmark wall {time.perf_counter() - started:.0f}s")
    print_headlines(table, datasets)


if __name__ == "__main__":
    main()
