"""A pareto study's front: which scored trials no other beats on both objective score and overall
health, the recommended trial (the knee, ``contracts.pareto.KNEE_RULE``) and how to export another."""

from __future__ import annotations

from typing import Any

from contracts.enums import Mode
from contracts.pareto import KNEE_RULE, ParetoPoint, knee, pareto_front
from services.reporter.results.tables import table
from services.reporter.results.view import StudyView, TrialView

EXPORT_HINT = "hpo export {folder} --trial N"


def points(view: StudyView) -> dict[int, tuple[ParetoPoint, TrialView]]:
    """Every scored trial with both objectives, by trial number."""
    found = {}
    for trial in view.scored:
        b = trial.breakdown
        if b is not None and b.overall_health is not None:
            found[trial.number] = (ParetoPoint(trial.number, b.objective_score, b.overall_health), trial)
    return found


def front(view: StudyView) -> list[TrialView]:
    """The front's trials, by objective score descending."""
    known = points(view)
    return [known[p.number][1] for p in pareto_front([p for p, _ in known.values()])]


def recommended(view: StudyView) -> TrialView | None:
    known = points(view)
    chosen = knee([p for p, _ in known.values()])
    return known[chosen.number][1] if chosen is not None else None


def front_document(view: StudyView) -> dict[str, Any] | None:
    """The pareto block of ``best_params.yaml`` (None outside pareto mode)."""
    if view.rule.mode is not Mode.PARETO:
        return None
    knee_trial = recommended(view)
    return {
        "objectives": [f"objective_score({view.rule.objective.value})", "overall_health"],
        "front": [t.number for t in front(view)],
        "recommended_trial": knee_trial.number if knee_trial else None,
        "rule": KNEE_RULE,
        "export_another": EXPORT_HINT.format(folder=view.folder_name),
    }


def section(view: StudyView, plot: str | None) -> list[str]:
    """``## Pareto front`` for a pareto study; nothing otherwise."""
    if view.rule.mode is not Mode.PARETO:
        return []
    lines = [
        "## Pareto front",
        "",
        f"Two objectives, both maximized: objective score (`{view.rule.objective.value}` mapped to [0, 1]) and "
        "overall health. A trial is on the front when no other trial is at least as good on both and better on one.",
        "",
    ]
    members = front(view)
    if not members:
        return [*lines, "No trial completed with both objectives.", ""]
    knee_trial = recommended(view)
    rows = []
    for trial in members:
        b = trial.breakdown
        metrics = trial.record.metrics or {}
        rows.append(
            [
                trial.label + (" **(recommended)**" if trial is knee_trial else ""),
                b.objective_score if b else None,
                b.overall_health if b else None,
                trial.record.val_accuracy,
                metrics.get("test_accuracy"),
                trial.record.parameter_count,
            ]
        )
    headers = ["trial", "objective score", "overall health", "val accuracy", "test accuracy", "parameters"]
    lines += table(headers, rows)
    if knee_trial is not None:
        lines += [f"**Recommended: trial {knee_trial.label}**, the knee of the front: {KNEE_RULE}.", ""]
    lines += [
        f"To export another front member instead, by number: `{EXPORT_HINT.format(folder=view.folder_name)}` "
        "(run in the output folder; writes its parameters and model under `exports/`).",
        "",
    ]
    if plot:
        lines += [f"![Pareto front]({plot})", ""]
    return lines
