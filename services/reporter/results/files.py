"""The data files of a results folder: ``trials.csv``, ``best_params.yaml`` and
``health/trial_<n>.json``."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from contracts.health import HEALTH_COMPONENTS
from contracts.telemetry import EpochTelemetry, LayerTelemetry
from services.reporter.results import pareto, test_results
from services.reporter.results.view import StudyView, TrialView

BASE_COLUMNS: tuple[str, ...] = ("number", "attempt", "trial_id", "state")
RESULT_COLUMNS: tuple[str, ...] = (
    "val_accuracy",
    "objective",
    "objective_raw",
    "objective_score",
    "overall_health",
    *(f"health_{name}" for name in HEALTH_COMPONENTS),
    "score",
    "test_accuracy",
    "test_loss",
    "test_ece",
    "test_robustness",
    "epochs_trained",
    "duration_seconds",
    "gpu_seconds",
    "cost_usd",
    "reason",
)


def trials_csv_columns(view: StudyView) -> list[str]:
    """Column names of ``trials.csv``: ids and state, ``param_<name>`` per parameter, results."""
    return [*BASE_COLUMNS, *(f"param_{name}" for name in view.param_names), *RESULT_COLUMNS]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell. Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) gets a
    leading ``'``; numbers are written as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _trial_row(view: StudyView, trial: TrialView) -> dict[str, Any]:
    record, breakdown, assessment = trial.record, trial.breakdown, trial.assessment
    metrics = record.metrics or {}
    row: dict[str, Any] = {
        "number": record.number,
        "attempt": record.attempt,
        "trial_id": record.trial_id,
        "state": record.state,
        "val_accuracy": record.val_accuracy,
        "objective": view.rule.objective.value,
        "objective_raw": breakdown.raw_value if breakdown else None,
        "objective_score": breakdown.objective_score if breakdown else record.objective_score,
        "overall_health": record.overall_health,
        "score": breakdown.score if breakdown else record.score,
        "test_accuracy": metrics.get("test_accuracy"),
        "test_loss": metrics.get("test_loss"),
        "test_ece": metrics.get("test_ece"),
        "test_robustness": metrics.get("test_robustness") or None,
        "epochs_trained": record.epochs_trained,
        "duration_seconds": record.duration_seconds,
        "gpu_seconds": (record.metrics or {}).get("gpu_seconds"),
        "cost_usd": (record.metrics or {}).get("cost_usd"),
        "reason": record.reason,
    }
    for name in view.param_names:
        row[f"param_{name}"] = record.params.get(name)
    for name in HEALTH_COMPONENTS:
        row[f"health_{name}"] = getattr(assessment.components, name) if assessment else None
    return {key: _cell(value) for key, value in row.items()}


def write_trials_csv(view: StudyView, path: Path) -> Path:
    """One row per trial attempt, by number."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=trials_csv_columns(view))
        writer.writeheader()
        for trial in view.trials:
            writer.writerow(_trial_row(view, trial))
    return path


def write_best_params(view: StudyView, path: Path) -> Path:
    """The best trial's hyperparameters, with what it scored (``best: null`` when none)."""
    best = view.best
    document: dict[str, Any] = {
        "study": view.study.name,
        "study_id": view.study.study_id,
        "objective": view.rule.objective.value,
        "mode": view.rule.mode.value,
    }
    if best is None:
        document["best"] = None
    else:
        b = best.breakdown
        document |= {
            "trial_number": best.number,
            "trial_id": best.record.trial_id,
            "score": b.score if b else best.record.score,
            "objective_raw": b.raw_value if b else None,
            "objective_score": b.objective_score if b else best.record.objective_score,
            "overall_health": best.record.overall_health,
            "params": dict(best.record.params),
            "test": test_results.test_document(test_results.test_metrics(best)),
        }
    front = pareto.front_document(view)
    if front is not None:
        document["pareto"] = front
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _layer_summary(layer: LayerTelemetry) -> dict[str, Any]:
    return layer.model_dump(mode="json", exclude={"weight_histogram", "bias_histogram"}, exclude_none=True)


def _epoch_summary(epoch: EpochTelemetry) -> dict[str, Any]:
    norms = [layer.gradient_norm for layer in epoch.layers if layer.gradient_norm is not None]
    dead = [layer.dead_fraction for layer in epoch.layers if layer.dead_fraction is not None]
    saturated = [layer.saturated_fraction for layer in epoch.layers if layer.saturated_fraction is not None]
    summary = epoch.model_dump(mode="json", exclude={"layers"})
    summary["layers"] = {
        "count": len(epoch.layers),
        "gradient_norm_min": min(norms, default=None),
        "gradient_norm_max": max(norms, default=None),
        "dead_fraction_max": max(dead, default=None),
        "saturated_fraction_max": max(saturated, default=None),
    }
    return summary


def trial_health_document(view: StudyView, trial: TrialView) -> dict[str, Any]:
    """Assessment, alerts and a per-epoch telemetry summary of one trial."""
    record, last = trial.record, trial.last
    return {
        "study_id": view.study.study_id,
        "trial_id": record.trial_id,
        "number": record.number,
        "attempt": record.attempt,
        "state": record.state,
        "reason": record.reason,
        "params": record.params,
        "metrics": record.metrics,
        "score": trial.breakdown.model_dump(mode="json") | {"formula": trial.breakdown.formula()}
        if trial.breakdown
        else {"unscored": trial.unscored_reason},
        "assessment": trial.assessment.model_dump(mode="json") if trial.assessment else None,
        "assessment_final": trial.health_final,
        "alerts": [
            {"kind": a.kind, "severity": a.severity, "epoch": a.epoch, "layer": a.layer, "message": a.message}
            for a in trial.alerts
        ],
        "overfitting_epochs": list(trial.overfitting_epochs),
        "epochs": [_epoch_summary(epoch) for epoch in trial.telemetry],
        "layers_last_epoch": [_layer_summary(layer) for layer in last.layers] if last else [],
    }


def write_health_json(view: StudyView, folder: Path) -> dict[str, Path]:
    """``health/<slug>.json`` for every trial; returns slug -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for trial in view.trials:
        path = folder / f"{trial.slug}.json"
        path.write_text(json.dumps(trial_health_document(view, trial), indent=2, default=str), encoding="utf-8")
        written[trial.slug] = path
    return written
