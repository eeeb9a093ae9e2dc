"""The closing lines of ``hpo optimize``: how the study ended, its best trial, where the results are."""

from __future__ import annotations

from pathlib import Path

import yaml
from rich.console import Console

from contracts.events import StudyCompleted
from services.cli.embedded import EmbeddedOutcome
from services.cli.progress import StudyProgress


def print_summary(console: Console, outcome: EmbeddedOutcome, progress: StudyProgress) -> None:
    report = outcome.report.data if outcome.report is not None else None
    print_study_end(
        console,
        outcome.completed,
        progress,
        report.results_dir if report else None,
        report.bundle_path if report and report.bundle_path else None,
    )


def print_study_end(
    console: Console, completed: StudyCompleted, progress: StudyProgress, results_dir: str | None, bundle: str | None
) -> None:
    data = completed.data
    console.print(
        f"\nstudy {data.state.value}: {data.completed_trials} completed, {data.pruned_trials} pruned, "
        f"{data.failed_trials} failed" + (f" ({data.reason})" if data.reason else "")
    )
    if data.best_trial_number is not None and data.best_score is not None:
        best = progress.summaries.get(data.best_trial_id or "")
        parts = [f"score={data.best_score:.4f}"]
        if best and best.val_accuracy is not None:
            parts.append(f"val_accuracy={best.val_accuracy:.4f}")
        if best and best.overall_health is not None:
            parts.append(f"overall_health={best.overall_health:.3f}")
        console.print(f"[bold green]best trial #{data.best_trial_number}[/bold green]: " + ", ".join(parts))
        console.print("  params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in data.best_params.items()))
    if results_dir is not None:
        for line in results_lines(Path(results_dir)):
            console.print(line)
    if results_dir is not None:
        console.print(f"results: {results_dir}")
    if bundle is not None:
        console.print(f"zip:     {bundle}")


def results_lines(study_dir: Path) -> list[str]:
    """The best trial's held-out test figures and, for a pareto study, its front, from ``best_params.yaml``."""
    try:
        document = yaml.safe_load((study_dir / "best_params.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(document, dict):
        return []
    lines = []
    test = document.get("test")
    if isinstance(test, dict) and test.get("test_accuracy") is not None:
        parts = [f"test_accuracy={test['test_accuracy']:.4f}"]
        if test.get("test_loss") is not None:
            parts.append(f"test_loss={test['test_loss']:.4f}")
        if test.get("expected_calibration_error") is not None:
            parts.append(f"ECE={test['expected_calibration_error']:.4f}")
        shifted = test.get("accuracy_under_shift") or {}
        parts += [f"{name}={value:.4f}" for name, value in shifted.items()]
        lines.append("  test (held out, never used for selection): " + ", ".join(parts))
        lines.append(f"  test split: {test.get('split')}")
    front = document.get("pareto")
    if isinstance(front, dict):
        members = ", ".join(f"#{n}" for n in front.get("front", []))
        lines.append(f"pareto front: {members}; recommended #{front.get('recommended_trial')} (the knee)")
        lines.append(f"  export another: {front.get('export_another')}")
    return lines


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
