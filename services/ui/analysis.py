"""Plain computations behind the Explore page: the trials table, filters, the Pareto front, importance."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BASE_COLUMNS = ("number", "state", "score", "val_accuracy", "overall_health", "epochs", "duration_s", "parameters")


def trials_frame(trials: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per trial: the figures the pages show, then one ``param_<name>`` column per parameter."""
    rows = []
    for trial in trials:
        row: dict[str, Any] = {
            "number": trial.get("number"),
            "state": trial.get("state"),
            "score": trial.get("score"),
            "val_accuracy": trial.get("val_accuracy"),
            "overall_health": trial.get("overall_health"),
            "epochs": trial.get("epochs_trained", 0),
            "duration_s": trial.get("duration_seconds"),
            "parameters": trial.get("parameter_count"),
            "architecture": trial.get("architecture") or "",
        }
        for name, value in (trial.get("params") or {}).items():
            row[f"param_{name}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else [*BASE_COLUMNS, "architecture"])
    for column in ("score", "val_accuracy", "overall_health", "duration_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def param_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("param_")]


@dataclass
class Filters:
    """What the Explore page narrows the table to; ranges keep rows without a value only when unset."""

    states: list[str] = field(default_factory=list)
    score: tuple[float, float] | None = None
    val_accuracy: tuple[float, float] | None = None
    overall_health: tuple[float, float] | None = None
    params: dict[str, list[Any]] = field(default_factory=dict)
    sort_by: str = "number"
    descending: bool = False


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    shown = frame
    if filters.states:
        shown = shown[shown["state"].isin(filters.states)]
    for column in ("score", "val_accuracy", "overall_health"):
        bounds = getattr(filters, column)
        if bounds is not None:
            low, high = bounds
            shown = shown[shown[column].between(low, high)]
    for column, allowed in filters.params.items():
        if allowed and column in shown:
            shown = shown[shown[column].isin(allowed)]
    if filters.sort_by in shown:
        shown = shown.sort_values(filters.sort_by, ascending=not filters.descending, na_position="last")
    return shown


def pareto_front(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The rows no other row beats on both ``x`` and ``y`` (both maximized), sorted by ``x``."""
    points = frame.dropna(subset=[x, y]).sort_values([x, y], ascending=[False, False])
    best_y = -np.inf
    keep = []
    for index, value in zip(points.index, points[y], strict=True):
        if value > best_y:
            keep.append(index)
            best_y = value
    return points.loc[keep].sort_values(x)


def importance(frame: pd.DataFrame, target: str = "score") -> pd.Series:
    """How strongly each parameter goes with ``target`` (|Spearman rho|; categories by their mean rank),
    normalised to sum 1. Parameters that never vary are left out."""
    data = frame.dropna(subset=[target])
    scores: dict[str, float] = {}
    for column in param_columns(data):
        values = data[column]
        if values.nunique(dropna=True) < 2:
            continue
        if not pd.api.types.is_numeric_dtype(values):
            ranks = data.groupby(values.astype(str))[target].transform("mean")
            values = ranks
        rho = pd.Series(values, dtype=float).rank().corr(data[target].rank())
        if rho is not None and not np.isnan(rho):
            scores[column.removeprefix("param_")] = abs(float(rho))
    result = pd.Series(scores, dtype=float)
    total = result.sum()
    return (result / total).sort_values(ascending=False) if total > 0 else result


def best_so_far(frame: pd.DataFrame) -> pd.DataFrame:
    """Score and best score so far, by trial number (finished trials only)."""
    done = frame.dropna(subset=["score"]).sort_values("number")
    return done.assign(best=done["score"].cummax())[["number", "score", "best"]]


def overfitting_gap(epochs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Runs of epochs (first, last) where validation loss rises while training loss keeps falling."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for previous, current in itertools.pairwise(epochs):
        rising = _rises(previous.get("val_loss"), current.get("val_loss"))
        falling = not _rises(previous.get("loss"), current.get("loss"))
        if rising and falling:
            start = previous["epoch"] if start is None else start
            end = current["epoch"]
            if spans and spans[-1][0] == start:
                spans[-1] = (start, end)
            else:
                spans.append((start, end))
        else:
            start = None
    return spans


def _rises(before: float | None, after: float | None) -> bool:
    return before is not None and after is not None and after > before
