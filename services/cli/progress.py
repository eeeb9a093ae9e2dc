"""Live progress of a study in the terminal, driven only by bus events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from contracts.events import (
    Event,
    StudyCompleted,
    StudyResumed,
    TrialCompleted,
    TrialEpochCompleted,
    TrialFailed,
    TrialHealthAlert,
    TrialHealthAssessed,
    TrialPruned,
    TrialRequested,
    TrialStarted,
)


@dataclass
class TrialSummary:
    number: int
    val_accuracy: float | None = None
    overall_health: float | None = None
    state: str = "running"


@dataclass
class StudyProgress:
    """Renders trials, epochs, best-so-far and health alerts; remembers what the final summary needs."""

    console: Console
    trials: int
    max_epochs: int
    summaries: dict[str, TrialSummary] = field(default_factory=dict)
    completed: StudyCompleted | None = None
    resumed: StudyResumed | None = None
    retries: dict[str, str] = field(default_factory=dict)
    """Trial id -> the id of the attempt it retries."""
    numbers: dict[str, int] = field(default_factory=dict)
    """Trial id -> trial number, for every attempt requested."""
    _progress: Progress | None = None
    _study_task: TaskID | None = None
    _epoch_task: TaskID | None = None
    _best: float | None = None

    def __enter__(self) -> StudyProgress:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.__enter__()
        self._study_task = self._progress.add_task("trials", total=self.trials)
        self._epoch_task = self._progress.add_task("epochs", total=self.max_epochs)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def seed(self, summaries: dict[str, TrialSummary]) -> None:
        """Trials that finished before this run (a resumed study): counted, and the best so far is theirs."""
        self.summaries.update(summaries)
        finished = [s for s in summaries.values() if s.state in ("completed", "pruned")]
        accuracies = [s.val_accuracy for s in summaries.values() if s.state == "completed" and s.val_accuracy]
        if accuracies:
            self._best = max(accuracies)
        if self._progress is not None and self._study_task is not None:
            self._progress.update(self._study_task, completed=len(finished), description=self._best_text())

    def label(self, trial_id: str, number: int) -> str:
        """``trial 4``, or ``trial 4 (retry of trial 1)`` for a retried attempt."""
        retried = self.retries.get(trial_id)
        if retried is None:
            return f"trial {number}"
        return f"trial {number} (retry of trial {self.numbers.get(retried, '?')})"

    def handle(self, event: Event) -> None:
        trial_id = event.trial_id or ""
        if isinstance(event, TrialRequested):
            self.numbers[trial_id] = event.data.trial_number
            if event.data.retry_of:
                self.retries[trial_id] = event.data.retry_of
        elif isinstance(event, StudyResumed):
            self.resumed = event
            self._print(
                f"resumed: {event.data.completed_trials} completed, {event.data.pruned_trials} pruned, "
                f"{event.data.failed_trials} failed so far; {event.data.remaining_trials} to go"
            )
        elif isinstance(event, TrialStarted):
            self.summaries[trial_id] = TrialSummary(number=event.data.trial_number)
            label = self.label(trial_id, event.data.trial_number)
            self._update_epoch(0, f"{label}: {event.data.parameter_count:,} params")
        elif isinstance(event, TrialEpochCompleted):
            t = event.data.telemetry
            val = f"{t.val_accuracy:.4f}" if t.val_accuracy is not None else "nan"
            self._update_epoch(t.epoch, f"trial {event.data.trial_number}: val_acc {val}")
        elif isinstance(event, TrialCompleted):
            summary = self._summary(trial_id, event.data.trial_number)
            summary.state = "completed"
            summary.val_accuracy = event.data.metrics.val_accuracy
            early = " (stopped early)" if event.data.stopped_early else ""
            self._best = max(self._best or 0.0, summary.val_accuracy)
            self._finished(
                f"{self.label(trial_id, summary.number)} completed{early}: val_accuracy={summary.val_accuracy:.4f}"
                f" in {event.data.metrics.training_seconds:.1f}s, {event.data.metrics.epochs_trained} epochs"
            )
        elif isinstance(event, TrialPruned):
            self._summary(trial_id, event.data.trial_number).state = "pruned"
            self._finished(
                f"{self.label(trial_id, event.data.trial_number)} pruned after epoch {event.data.epoch}: "
                f"{event.data.reason}"
            )
        elif isinstance(event, TrialFailed):
            self._summary(trial_id, event.data.trial_number).state = "failed"
            self._print(f"[red]{self.label(trial_id, event.data.trial_number)} failed:[/red] {event.data.reason}")
        elif isinstance(event, TrialHealthAssessed) and event.data.final:
            summary = self._summary(trial_id, event.data.trial_number)
            summary.overall_health = event.data.assessment.overall_health
            self._print(f"  health of trial {summary.number}: overall {summary.overall_health:.3f}")
        elif isinstance(event, TrialHealthAlert):
            alert = event.data.alert
            where = f" ({alert.layer})" if alert.layer else ""
            self._print(f"  [yellow]health alert, trial {event.data.trial_number}{where}:[/yellow] {alert.message}")
        elif isinstance(event, StudyCompleted):
            self.completed = event

    def _summary(self, trial_id: str, number: int) -> TrialSummary:
        return self.summaries.setdefault(trial_id, TrialSummary(number=number))

    def _finished(self, line: str) -> None:
        self._print(line)
        if self._progress is not None and self._study_task is not None:
            self._progress.advance(self._study_task)
            self._progress.update(self._study_task, description=self._best_text())

    def _best_text(self) -> str:
        return f"best val_acc {self._best:.4f}" if self._best is not None else "trials"

    def _update_epoch(self, epoch: int, description: str) -> None:
        if self._progress is not None and self._epoch_task is not None:
            self._progress.update(self._epoch_task, completed=epoch, description=description)

    def _print(self, line: str) -> None:
        (self._progress.console if self._progress else self.console).print(line)
