"""The Pareto front and the knee rule on constructed fronts."""

from __future__ import annotations

import math

import pytest

from contracts.pareto import ParetoPoint, dominates, knee, pareto_front


def _p(number: int, first: float, second: float) -> ParetoPoint:
    return ParetoPoint(number, first, second)


def test_dominated_points_leave_the_front_and_ties_stay() -> None:
    points = [_p(0, 0.9, 0.2), _p(1, 0.5, 0.5), _p(2, 0.4, 0.4), _p(3, 0.2, 0.9), _p(4, 0.5, 0.5)]
    assert [p.number for p in pareto_front(points)] == [0, 1, 4, 3]
    assert dominates(points[1], points[2]) and not dominates(points[1], points[4])


def test_non_finite_points_are_left_out() -> None:
    points = [_p(0, math.nan, 1.0), _p(1, 0.5, math.inf), _p(2, 0.3, 0.3)]
    assert pareto_front(points) == [points[2]]
    assert knee([_p(0, math.nan, 0.1)]) is None


def test_the_knee_is_the_point_farthest_from_the_line_between_the_extremes() -> None:
    # After normalising, the extremes are (1, 0) and (0, 1); #2 bulges most towards (1, 1).
    points = [_p(0, 0.95, 0.10), _p(1, 0.90, 0.50), _p(2, 0.85, 0.85), _p(3, 0.60, 0.92), _p(4, 0.30, 0.95)]
    chosen = knee(points)
    assert chosen is not None and chosen.number == 2


def test_normalisation_makes_the_knee_independent_of_each_objectives_scale() -> None:
    points = [_p(0, 0.95, 0.10), _p(1, 0.90, 0.50), _p(2, 0.85, 0.85), _p(3, 0.60, 0.92), _p(4, 0.30, 0.95)]
    scaled = [_p(p.number, p.first * 100.0, p.second / 10.0) for p in points]
    assert knee(points) == points[2] and knee(scaled) == scaled[2]


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([_p(7, 0.8, 0.6)], 7),  # one trial
        ([_p(0, 0.9, 0.5), _p(1, 0.5, 0.7)], 0),  # two: both sum to 1 after normalising; the better first wins
        ([_p(0, 1.0, 0.0), _p(1, 0.5, 0.5), _p(2, 0.0, 1.0)], 0),  # on the line: equal sums -> the better first
    ],
)
def test_a_front_without_a_bend_takes_the_largest_normalised_sum(points: list[ParetoPoint], expected: int) -> None:
    chosen = knee(points)
    assert chosen is not None and chosen.number == expected


def test_a_knee_below_the_line_is_not_chosen_over_a_better_sum() -> None:
    # #1 sags towards the origin (a concave front): no bend outwards, so the largest sum decides.
    points = [_p(0, 1.0, 0.0), _p(1, 0.3, 0.3), _p(2, 0.0, 1.0)]
    chosen = knee(points)
    assert chosen is not None and chosen.number == 0
