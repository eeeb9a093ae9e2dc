"""Declarative search spaces: one parameter spec per hyperparameter, defaults per modality.

The scheduler samples these specs; the trainer interprets the sampled values. A request can
override any spec by name (same fields) or add new ones.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.enums import Modality, ParamType

MAX_PARAMS = 64
"""Parameters in one search space, defaults and overrides together."""
MAX_CHOICES = 256
"""Choices of one categorical parameter."""
MAX_GRID_POINTS = 200_000
"""Points a grid search may enumerate: the grid sampler holds every point in memory (the default CNN space
has 104,976; 200,000 cost the scheduler about 45 MB)."""
GRID_FLOAT_POINTS = 3
GRID_INT_POINTS = 5

ParamValue = str | int | float | bool
ParamName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Choice = Annotated[str, StringConstraints(max_length=200)] | int | float | bool


class ParamSpec(BaseModel):
    """One hyperparameter: a numeric range (optionally log-scaled or stepped) or a list of choices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ParamName
    type: ParamType
    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    log: bool = False
    step: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    choices: list[Choice] | None = Field(default=None, max_length=MAX_CHOICES)

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        if self.type is ParamType.CATEGORICAL:
            if not self.choices:
                raise ValueError(f"parameter '{self.name}': categorical needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"parameter '{self.name}': {self.type} needs 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"parameter '{self.name}': low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"parameter '{self.name}': a log scale needs low > 0")
        return self


class SearchSpace(BaseModel):
    """An ordered set of parameter specs, unique by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    params: list[ParamSpec] = Field(max_length=MAX_PARAMS)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [p.name for p in self.params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"search space names a parameter twice: {', '.join(duplicated)}")
        return self

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def with_overrides(self, overrides: list[ParamSpec]) -> SearchSpace:
        """Replace specs by name and append new ones, keeping the original order."""
        by_name = {p.name: p for p in overrides}
        merged = [by_name.pop(p.name, p) for p in self.params]
        return SearchSpace(params=merged + list(by_name.values()))

    def grid_size(self) -> int:
        """Points a grid search over this space enumerates (the product of each parameter's grid values)."""
        return math.prod(len(grid_values(spec)) for spec in self.params)


def grid_values(spec: ParamSpec, float_points: int = GRID_FLOAT_POINTS) -> list[Any]:
    """The values a grid search tries: every choice, every int (at most 5 evenly spread), 3 floats."""
    if spec.type is ParamType.CATEGORICAL:
        assert spec.choices is not None
        return list(spec.choices)
    assert spec.low is not None and spec.high is not None
    if spec.type is ParamType.INT:
        low, high = int(spec.low), int(spec.high)
        if high - low < GRID_INT_POINTS:
            return list(range(low, high + 1))
        return sorted({round(low + i * (high - low) / (GRID_INT_POINTS - 1)) for i in range(GRID_INT_POINTS)})
    if spec.log:
        ratio = (spec.high / spec.low) ** (1 / (float_points - 1))
        inner = [spec.low * ratio**i for i in range(1, float_points - 1)]
    else:
        inner = [spec.low + i * (spec.high - spec.low) / (float_points - 1) for i in range(1, float_points - 1)]
    return [spec.low, *inner, spec.high]


def _int(name: str, low: int, high: int) -> ParamSpec:
    return ParamSpec(name=name, type=ParamType.INT, low=low, high=high)


def _float(name: str, low: float, high: float, *, log: bool = False) -> ParamSpec:
    return ParamSpec(name=name, type=ParamType.FLOAT, low=low, high=high, log=log)


def _choice(name: str, *choices: ParamValue) -> ParamSpec:
    return ParamSpec(name=name, type=ParamType.CATEGORICAL, choices=list(choices))


CNN_SEARCH_SPACE = SearchSpace(
    params=[
        _int("conv_blocks", 1, 3),
        _choice("filters", 16, 32, 64),
        _choice("kernel_size", 3, 5),
        _choice("pooling", "max", "average"),
        _choice("batch_norm", True, False),
        _float("dropout", 0.0, 0.5),
        _choice("dense_units", 32, 64, 128),
        _choice("activation", "relu", "elu", "tanh"),
        _choice("optimizer", "adam", "rmsprop", "sgd"),
        _float("learning_rate", 1e-4, 1e-2, log=True),
        _choice("batch_size", 32, 64, 128),
        _choice("augmentation", False, True),
    ]
)

LSTM_SEARCH_SPACE = SearchSpace(
    params=[
        _choice("embedding_dim", 32, 64, 128),
        _choice("lstm_units", 16, 32, 64),
        _int("lstm_layers", 1, 2),
        _choice("bidirectional", False, True),
        _float("dropout", 0.0, 0.5),
        _choice("dense_units", 16, 32, 64),
        _choice("optimizer", "adam", "rmsprop"),
        _float("learning_rate", 5e-4, 1e-2, log=True),
        _choice("batch_size", 32, 64),
        _choice("sequence_length", 64, 128, 200),
        _choice("vocab_size", 5000, 10000, 20000),
    ]
)

DEFAULT_SEARCH_SPACES: dict[Modality, SearchSpace] = {
    Modality.IMAGE: CNN_SEARCH_SPACE,
    Modality.TEXT: LSTM_SEARCH_SPACE,
}
