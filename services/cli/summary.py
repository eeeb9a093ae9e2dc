"""The closing lines of ``hpo optimize``: how the study ended, its best trial, where the results are."""

from __future__ import annotations

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
        console.print(f"results: {results_dir}")
    if bundle is not None:
        console.print(f"zip:     {bundle}")


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
