"""Translate the declarative ``contracts.search_space`` specs into Optuna distributions."""

from __future__ import annotations

from typing import Any

import optuna.distributions as od

from contracts.enums import ParamType
from contracts.search_space import ParamSpec, SearchSpace


def to_distribution(spec: ParamSpec) -> od.BaseDistribution:
    if spec.type is ParamType.CATEGORICAL:
        assert spec.choices is not None
        return od.CategoricalDistribution(spec.choices)
    assert spec.low is not None and spec.high is not None
    if spec.type is ParamType.INT:
        step = int(spec.step) if spec.step and not spec.log else 1
        return od.IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=step)
    return od.FloatDistribution(spec.low, spec.high, log=spec.log, step=None if spec.log else spec.step)


def to_distributions(space: SearchSpace) -> dict[str, od.BaseDistribution]:
    return {spec.name: to_distribution(spec) for spec in space.params}


def grid_values(spec: ParamSpec, float_points: int = 3) -> list[Any]:
    """The values a grid search tries: every choice, every int (at most 5 evenly spread), 3 floats."""
    if spec.type is ParamType.CATEGORICAL:
        assert spec.choices is not None
        return list(spec.choices)
    assert spec.low is not None and spec.high is not None
    if spec.type is ParamType.INT:
        low, high = int(spec.low), int(spec.high)
        if high - low < 5:
            return list(range(low, high + 1))
        return sorted({round(low + i * (high - low) / 4) for i in range(5)})
    if spec.log:
        ratio = (spec.high / spec.low) ** (1 / (float_points - 1))
        inner = [spec.low * ratio**i for i in range(1, float_points - 1)]
    else:
        inner = [spec.low + i * (spec.high - spec.low) / (float_points - 1) for i in range(1, float_points - 1)]
    return [spec.low, *inner, spec.high]


def grid_size(space: SearchSpace) -> int:
    size = 1
    for spec in space.params:
        size *= len(grid_values(spec))
    return size
