"""Scheduler scaling benchmark: what a study costs as it grows to 10,000 finished trials.

(a) The scheduler's Optuna side (``StudyRunner``, exactly as the scheduler service drives it: sampling
    on the in-memory copy, every trial written through to Optuna's tables on Postgres) runs one study
    per sampler case to ``--trials`` finished trials of instant synthetic trials (a fixed smooth function
    of the parameters plus noise). Trials are kept running as trainers would: 1 for plain TPE, 8 for TPE
    with constant liar. TPE, CMA-ES learn from the bounded history (``bounded_history``, the scheduler's
    default), ``tpe_unbounded`` from every trial (Optuna's own behaviour). Each ask and tell is timed;
    p50 and p95 are printed over the ``--window`` asks before each checkpoint (100, 1,000, 5,000, 10,000
    finished trials), with the best score reached by then (search quality on the synthetic function).
(b) The reporter's final report (``build_results``: every plot, CSV, health JSON, report and ZIP) on a
    read model seeded with a study of ``--trials`` trials and their epochs' full telemetry.
(c) The API's ``/jobs/{id}/trends`` and ``/jobs/{id}/trials`` on that read model, over real HTTP.

Needs Postgres (``--admin-url``; a database per phase is created and dropped). Ends with
``tpe_ask_p95_ms_at_10k=`` and ``report_seconds_at_10k=`` (goals: under 100 ms, under 60 s)::

    .venv/bin/python benchmarks/scheduler_scaling.py [--trials 10000] [--samplers tpe,tpe_liar,random,cmaes]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for ``benchmarks.*``

from benchmarks import api_latency
from benchmarks.read_model_seed import ADMIN_URL, seed_study, seeded_database
from contracts.enums import DatasetName, Mode, PrunerName, SamplerName
from contracts.search_space import ParamSpec, ParamType
from contracts.study import StudyConfig
from services.reporter.build import build_results
from services.runtime.artifacts.local import LocalArtifactStore
from services.runtime.db.engine import create_engine_for
from services.runtime.db.repository import ReadModelRepository
from services.scheduler.bounded_history import DEFAULT_SAMPLER_HISTORY
from services.scheduler.study_runner import StudyRunner


@dataclass(frozen=True)
class SamplerCase:
    label: str
    sampler: SamplerName
    in_flight: int
    history: int = DEFAULT_SAMPLER_HISTORY
    """Finished trials the sampler learns from (``bounded_history``; 0: all, Optuna's plain behaviour)."""


CASES = {
    "tpe": SamplerCase("tpe", SamplerName.TPE, 1),
    "tpe_liar": SamplerCase("tpe_liar", SamplerName.TPE, 8),
    "tpe_unbounded": SamplerCase("tpe_unbounded", SamplerName.TPE, 1, history=0),
    "random": SamplerCase("random", SamplerName.RANDOM, 1),
    "cmaes": SamplerCase("cmaes", SamplerName.CMAES, 1),
}


@dataclass
class Timings:
    """Milliseconds of each ask and tell, with the number of finished trials when it happened."""

    asks: list[tuple[int, float]] = field(default_factory=list)
    tells: list[tuple[int, float]] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    """The best score after each finished trial."""

    def window(self, kind: str, checkpoint: int, size: int) -> list[float]:
        samples = self.asks if kind == "ask" else self.tells
        return [ms for finished, ms in samples if checkpoint - size <= finished < checkpoint]


def synthetic_score(specs: list[ParamSpec], seed: int) -> Callable[[dict[str, Any]], float]:
    """A smooth function of the parameters (best at a fixed random point) plus a little noise."""
    rng = random.Random(seed)
    targets = {spec.name: rng.random() for spec in specs}
    noise = random.Random(seed + 1)

    def unit(spec: ParamSpec, value: Any) -> float:
        if spec.type is ParamType.CATEGORICAL:
            choices = spec.choices or [value]
            return choices.index(value) / max(len(choices) - 1, 1)
        low, high = float(spec.low or 0), float(spec.high or 1)
        if spec.log:
            return (math.log(value) - math.log(low)) / max(math.log(high) - math.log(low), 1e-12)
        return (float(value) - low) / max(high - low, 1e-12)

    def score(params: dict[str, Any]) -> float:
        misses = [(unit(spec, params[spec.name]) - targets[spec.name]) ** 2 for spec in specs if spec.name in params]
        return 1.0 - sum(misses) / max(len(misses), 1) + noise.gauss(0, 0.01)

    return score


def drive(case: SamplerCase, database_url: str, trials: int, seed: int) -> Timings:
    """One study to ``trials`` finished trials with ``case.in_flight`` running at any time."""
    config = StudyConfig(
        dataset=DatasetName.DIGITS, mode=Mode.SIMPLE, trials=trials, max_epochs=1, pruner=PrunerName.NONE,
        sampler=case.sampler, parallelism=case.in_flight, seed=seed,
    )  # fmt: skip
    runner = StudyRunner(
        f"scaling-{case.label}-{uuid.uuid4().hex[:6]}", config, database_url, sampler_history=case.history
    )
    score = synthetic_score(list(config.effective_search_space().params), seed)
    timings = Timings()
    running: list[tuple[int, dict[str, Any]]] = []
    finished = asked = 0
    progress_every = max(trials // 10, 1)
    while finished < trials:
        while len(running) < case.in_flight and asked < trials:
            started = time.perf_counter()
            trial = runner.ask()
            timings.asks.append((finished, (time.perf_counter() - started) * 1000))
            running.append((trial.number, trial.params))
            asked += 1
        number, params = running.pop(0)
        value = score(params)
        started = time.perf_counter()
        runner.tell_completed(number, value)
        timings.tells.append((finished, (time.perf_counter() - started) * 1000))
        timings.best.append(max(value, timings.best[-1]) if timings.best else value)
        finished += 1
        if finished % progress_every == 0:
            recent = [ms for _, ms in timings.asks[-50:]]
            print(
                f"  [{case.label}] {finished}/{trials} finished, last asks p50 {statistics.median(recent):.1f} ms",
                flush=True,
            )
    return timings


def checkpoints(trials: int) -> list[int]:
    return [c for c in (100, 1_000, 5_000, 10_000) if c <= trials] or [trials]


def report_seconds(database_url: str, trials: int, epochs_per_trial: int) -> tuple[float, int, float]:
    """(seconds to build the report and ZIP, the ZIP's bytes, seconds seeding took) on a seeded study."""
    study_id = "scaling-report-" + uuid.uuid4().hex[:8]
    seeding = seed_study(database_url, study_id, trials, epochs_per_trial=epochs_per_trial, state="completed")
    print(f"  seeded {trials} trials x {epochs_per_trial} epochs in {seeding:.1f} s", flush=True)
    repository = ReadModelRepository(create_engine_for(database_url))
    with tempfile.TemporaryDirectory(prefix="hpo-scaling-report-") as scratch:
        started = time.perf_counter()
        built = build_results(
            study_id,
            repository=repository,
            artifacts=LocalArtifactStore(Path(scratch) / "artifacts"),
            results_root=Path(scratch) / "results",
        )
        seconds = time.perf_counter() - started
    repository.engine.dispose()
    return seconds, built.bundle_size, seeding


def _p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("HPO_BENCH_POSTGRES_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--samplers", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    parser.add_argument("--window", type=int, default=100, help="asks measured before each checkpoint")
    parser.add_argument("--epochs-per-trial", type=int, default=3, help="seeded epochs per trial for the report")
    parser.add_argument("--requests", type=int, default=100, help="measured API requests per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-report", action="store_true", help="only the samplers")
    args = parser.parse_args(argv)
    names = [name for name in args.samplers.split(",") if name]  # --samplers "": only the report and the API
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown sampler case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    lines: list[str] = []
    headline: dict[str, float] = {}
    for name in names:
        case = CASES[name]
        with seeded_database(args.admin_url, f"sched_{name}") as url:
            started = time.perf_counter()
            timings = drive(case, url, args.trials, args.seed)
            print(f"[{name}] {args.trials} trials in {time.perf_counter() - started:.1f} s", flush=True)
        for checkpoint in checkpoints(args.trials):
            size = min(args.window, max(checkpoint // 2, 1))
            asks, tells = timings.window("ask", checkpoint, size), timings.window("tell", checkpoint, size)
            label = _count_label(checkpoint)
            print(
                f"[{name}] at {checkpoint:>6} finished: ask p50 {_p(asks, 50):7.1f} p95 {_p(asks, 95):7.1f} ms;"
                f" tell p50 {_p(tells, 50):5.1f} p95 {_p(tells, 95):5.1f} ms",
                flush=True,
            )
            lines.append(f"{name}_ask_p50_ms_at_{label}={_p(asks, 50):.1f}")
            lines.append(f"{name}_ask_p95_ms_at_{label}={_p(asks, 95):.1f}")
            lines.append(f"{name}_tell_p95_ms_at_{label}={_p(tells, 95):.1f}")
            lines.append(f"{name}_best_score_at_{label}={timings.best[checkpoint - 1]:.4f}")
            if name == "tpe" and checkpoint == max(checkpoints(args.trials)):
                headline[f"tpe_ask_p95_ms_at_{label}"] = _p(asks, 95)

    if not args.skip_report:
        with seeded_database(args.admin_url, "sched_report") as url:
            seconds, size, _ = report_seconds(url, args.trials, args.epochs_per_trial)
            print(f"[report] built in {seconds:.1f} s, ZIP {size / 1e6:.1f} MB", flush=True)
            label = _count_label(args.trials)
            lines.append(f"report_zip_mb_at_{label}={size / 1e6:.1f}")
            headline[f"report_seconds_at_{label}"] = seconds
            study_id = "scaling-api-" + uuid.uuid4().hex[:8]
            seed_study(url, study_id, args.trials, epochs_per_trial=args.epochs_per_trial)
            endpoints = {"trends": f"/jobs/{study_id}/trends", "trials_page": f"/jobs/{study_id}/trials"}
            for endpoint, timings_ms in api_latency.measure(url, endpoints, args.requests, warmup=10).items():
                lines.append(f"api_{endpoint}_p95_ms_at_{label}={_p(timings_ms, 95):.1f}")

    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for line in lines:
        print(line)
    for key, value in headline.items():
        print(f"{key}={value:.1f}")
    return 0


def _count_label(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 and count >= 1000 else str(count)


if __name__ == "__main__":
    sys.exit(main())
