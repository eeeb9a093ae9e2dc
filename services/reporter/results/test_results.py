"""The held-out test figures of a study: the headline line and the table of the top trials by score.

The trainer measures each completed trial once on the test split after training (accuracy, loss, ECE,
accuracy under shifts); the scheduler never reads them, so they are an honest estimate for the trials
the search picked on validation figures.
"""

from __future__ import annotations

from typing import Any

from contracts.telemetry import TrialMetrics
from services.reporter.results.tables import table
from services.reporter.results.view import StudyView, TrialView
from services.reporter.scoring import trial_metrics

TOP_TRIALS = 3
TEST_LABEL = "held-out test split, measured once after training; never used for selection"


def top_by_score(view: StudyView, count: int = TOP_TRIALS) -> list[TrialView]:
    """The best trial first, then the others by score, ``count`` in all."""
    ranked = sorted(view.scored, key=lambda t: (t is not view.best, -(t.score or 0.0), t.number))
    return ranked[:count]


def test_metrics(trial: TrialView | None) -> TrialMetrics | None:
    if trial is None:
        return None
    metrics = trial_metrics(trial.record)
    return metrics if metrics is not None and metrics.test_accuracy is not None else None


def robustness_text(metrics: TrialMetrics) -> str:
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.test_robustness.items())


def test_document(metrics: TrialMetrics | None) -> dict[str, Any] | None:
    """The test block of ``best_params.yaml``."""
    if metrics is None:
        return None
    return {
        "note": TEST_LABEL,
        "split": metrics.test_split or "not recorded",
        "test_accuracy": metrics.test_accuracy,
        "test_loss": metrics.test_loss,
        "expected_calibration_error": metrics.test_ece,
        "accuracy_under_shift": dict(metrics.test_robustness),
    }


def headline(view: StudyView) -> list[str]:
    """One bold line under the title: the best trial's test accuracy, with what it means."""
    best = view.best
    metrics = test_metrics(best)
    if best is None:
        return []
    if metrics is None:
        return [f"**Best trial {best.label}: no test figures** (it was not evaluated on a test split).", ""]
    val = f"{metrics.val_accuracy:.4f}"
    parts = [f"test loss {metrics.test_loss:.4f}" if metrics.test_loss is not None else ""]
    if metrics.test_ece is not None:
        parts.append(f"ECE {metrics.test_ece:.4f}")
    if metrics.test_robustness:
        parts.append("accuracy under shift: " + robustness_text(metrics))
    detail = "; ".join(p for p in parts if p)
    split = f" Test split: {metrics.test_split}." if metrics.test_split else ""
    return [
        f"**Best trial {best.label}: test accuracy {metrics.test_accuracy:.4f}** ({detail}). "
        f"Validation accuracy, which the search selected on, was {val}; the test figures are from the "
        f"{TEST_LABEL}.{split}",
        "",
    ]


def section(view: StudyView) -> list[str]:
    """``## Test set``: the top trials by score on the held-out split."""
    top = top_by_score(view)
    lines = ["## Test set (held out)", "", f"The top {TOP_TRIALS} trials by score, on the {TEST_LABEL}.", ""]
    rows = []
    shift_names: list[str] = []
    for trial in top:
        metrics = test_metrics(trial)
        if metrics is not None:
            shift_names += [n for n in metrics.test_robustness if n not in shift_names]
    for trial in top:
        metrics = test_metrics(trial)
        label = trial.label + (" (best)" if trial is view.best else "")
        if metrics is None:
            rows.append([label, trial.score, trial.record.val_accuracy, None, None, None, *[None] * len(shift_names)])
            continue
        shifted = [metrics.test_robustness.get(name) for name in shift_names]
        rows.append(
            [
                label,
                trial.score,
                metrics.val_accuracy,
                metrics.test_accuracy,
                metrics.test_loss,
                metrics.test_ece,
                *shifted,
            ]
        )
    if not rows:
        return [*lines, "No trial completed with a score.", ""]
    headers = ["trial", "score", "val accuracy", "test accuracy", "test loss", "ECE"]
    headers += [f"test acc. ({name})" for name in shift_names]
    lines += table(headers, rows)
    splits = {m.test_split for t in top if (m := test_metrics(t)) is not None and m.test_split}
    lines += [f"Test split: {s}." for s in sorted(splits)]
    lines += [
        "",
        "ECE: expected calibration error over 15 confidence bins (0 = confidence matches accuracy). Shifts: "
        "Gaussian noise (std 0.1), a shift right and down by 8% of the image side (2 pixels on 28x28), "
        "a 10° rotation (images); 10% of words replaced by out-of-vocabulary (text).",
        "",
    ]
    return lines
