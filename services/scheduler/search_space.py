"""Translate the declarative ``contracts.search_space`` specs into Optuna distributions."""

from __future__ import annotations

import optuna.distributions as od

from contracts.enums import ParamType
from contracts.search_space import ParamSpec, SearchSpace, grid_values

__all__ = ["grid_values", "to_distribution", "to_distributions"]


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
