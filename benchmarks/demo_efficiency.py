"""Demo efficiency benchmark: how much of the digits demo's wall time is spent training.

Runs the demo command, ``hpo optimize dataset=digits mode=health trials=8 max_epochs=5 seed=42``, in a
subprocess (``python -m services.cli.main``, in ``--repo``: this checkout unless told otherwise, so an
older checkout can be measured with the same script) with its results in a scratch folder, and reads
the trials' training seconds from the results folder's ``health/trial_<n>.json``:

- a completed trial: ``metrics.training_seconds`` (the wall time of its ``fit`` call, telemetry included);
- a pruned or failed trial (no metrics): the sum of its epochs' ``epoch_seconds + telemetry_seconds``.

``demo_wall_seconds`` is the subprocess's wall time, from its start to its exit (Python start-up, imports,
the dataset check, the study, the report and the ZIP). ``training_share_pct = sum of the trials' training
seconds / demo_wall_seconds * 100``. Goal: above 75.

    .venv/bin/python benchmarks/demo_efficiency.py [--runs 1] [--repo PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_env import print_load

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_OPTIONS = ("dataset=digits", "mode=health", "trials=8", "max_epochs=5", "seed=42")
SHARE_GOAL_PCT = 75.0


@dataclass(frozen=True)
class DemoRun:
    wall_seconds: float
    training_seconds: float
    trials: int
    states: dict[str, int]

    @property
    def share_pct(self) -> float:
        return self.training_seconds / self.wall_seconds * 100


def trial_training_seconds(trial: dict[str, Any]) -> float:
    """A trial's training time: its ``fit`` wall time when it completed, else the sum of its epochs."""
    metrics = trial.get("metrics") or {}
    if metrics.get("training_seconds") is not None:
        return float(metrics["training_seconds"])
    epochs = trial.get("epochs") or []
    return sum(float(e.get("epoch_seconds") or 0.0) + float(e.get("telemetry_seconds") or 0.0) for e in epochs)


def read_results(output_dir: Path) -> tuple[float, int, dict[str, int]]:
    """Training seconds summed over the trials of the one results folder under ``output_dir``."""
    folders = [path for path in output_dir.iterdir() if path.is_dir() and (path / "trials.csv").is_file()]
    if len(folders) != 1:
        raise RuntimeError(f"expected one results folder in {output_dir}, found {len(folders)}")
    trials = [json.loads(path.read_text(encoding="utf-8")) for path in sorted((folders[0] / "health").glob("*.json"))]
    states: dict[str, int] = {}
    for trial in trials:
        states[str(trial.get("state"))] = states.get(str(trial.get("state")), 0) + 1
    return sum(trial_training_seconds(t) for t in trials), len(trials), states


def run_demo(repo: Path, scratch: Path, index: int) -> DemoRun:
    output_dir = scratch / f"run-{index}"
    env = os.environ | {
        "PYTHONPATH": str(repo),
        "KERAS_HOME": str(repo / ".hpo_home" / "keras"),
        "MPLCONFIGDIR": str(repo / ".hpo_home" / "matplotlib"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    command = [sys.executable, "-m", "services.cli.main", "optimize", *DEMO_OPTIONS, f"output_dir={output_dir}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the demo exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    training, trials, states = read_results(output_dir)
    return DemoRun(wall, training, trials, states)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1, help="demo runs; the figures are the medians")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="the checkout whose hpo runs the demo")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    repo = args.repo.resolve()
    print(f"[demo] hpo optimize {' '.join(DEMO_OPTIONS)} (from {repo}), {args.runs} run(s)", flush=True)
    print_load("start")
    runs: list[DemoRun] = []
    with tempfile.TemporaryDirectory(prefix="hpo-demo-bench-") as scratch:
        for index in range(args.runs):
            run = run_demo(repo, Path(scratch), index)
            runs.append(run)
            states = ", ".join(f"{count} {state}" for state, count in sorted(run.states.items()))
            print(
                f"[demo] run {index + 1}: wall {run.wall_seconds:.1f}s, training {run.training_seconds:.1f}s "
                f"over {run.trials} trials ({states}), share {run.share_pct:.1f}%",
                flush=True,
            )
    print_load("end")
    wall = statistics.median(r.wall_seconds for r in runs)
    share = statistics.median(r.share_pct for r in runs)
    print(f"demo_training_seconds={statistics.median(r.training_seconds for r in runs):.2f}")
    print(f"training_share_goal_met={str(share > SHARE_GOAL_PCT).lower()}")
    print(f"demo_wall_seconds={wall:.2f}")
    print(f"training_share_pct={share:.1f}")


if __name__ == "__main__":
    main()
