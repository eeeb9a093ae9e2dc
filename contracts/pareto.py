"""The Pareto front of a two-objective study (both maximized) and its recommended trial, the knee.

Knee rule (``KNEE_RULE``): each objective is normalised to [0, 1] over the front (min-max); the two
extremes are the front's best trial on each objective; the knee is the front member farthest from the
straight line between the extremes, on the side away from the origin. A front of one or two trials, or
one lying on that line, has no bend: the member with the largest sum of normalised objectives is taken
(ties: the better first objective, then the lower trial number).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

KNEE_RULE = (
    "knee = the front member farthest from the line between the two extremes, after min-max normalising "
    "each objective over the front (no bend: the largest sum of normalised objectives)"
)


@dataclass(frozen=True, slots=True)
class ParetoPoint:
    """One scored trial: its number and two objective values, both maximized."""

    number: int
    first: float
    second: float


def dominates(a: ParetoPoint, b: ParetoPoint) -> bool:
    """``a`` is at least as good as ``b`` on both objectives and better on one."""
    return a.first >= b.first and a.second >= b.second and (a.first > b.first or a.second > b.second)


def pareto_front(points: Sequence[ParetoPoint]) -> list[ParetoPoint]:
    """The non-dominated points, by first objective descending (then trial number). Points with equal
    values are all kept; points with a non-finite value are left out."""
    finite = [p for p in points if math.isfinite(p.first) and math.isfinite(p.second)]
    front = [p for p in finite if not any(dominates(q, p) for q in finite)]
    return sorted(front, key=lambda p: (-p.first, -p.second, p.number))


def _normalised(front: Sequence[ParetoPoint]) -> list[tuple[float, float]]:
    lo1, hi1 = min(p.first for p in front), max(p.first for p in front)
    lo2, hi2 = min(p.second for p in front), max(p.second for p in front)

    def scale(value: float, lo: float, hi: float) -> float:
        return (value - lo) / (hi - lo) if hi > lo else 1.0

    return [(scale(p.first, lo1, hi1), scale(p.second, lo2, hi2)) for p in front]


def knee(points: Sequence[ParetoPoint]) -> ParetoPoint | None:
    """The recommended trial of ``points`` by ``KNEE_RULE``; None when no point is finite."""
    front = pareto_front(points)
    if not front:
        return None
    norm = _normalised(front)
    # Extremes: best first objective (front[0]) and best second objective (the last by construction).
    (x1, y1), (x2, y2) = norm[0], norm[-1]
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)

    def tie_break(i: int) -> tuple[float, float, int]:
        return (norm[i][0] + norm[i][1], front[i].first, -front[i].number)

    if len(front) <= 2 or length == 0.0:
        return front[max(range(len(front)), key=tie_break)]
    # Signed distance to the line from the best-first extreme to the best-second one: the front runs from
    # bottom-right to top-left, so a positive cross product is the side away from the origin.
    distances = [((x - x1) * dy - (y - y1) * dx) / length for x, y in norm]
    best = max(range(len(front)), key=lambda i: (round(distances[i], 12), tie_break(i)))
    if distances[best] <= 1e-12:
        return front[max(range(len(front)), key=tie_break)]
    return front[best]
