"""Typed access to a trial's sampled parameters, with the default used when a search space omits one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.runtime.errors import TrialFailure


class TrialParams:
    """Reads one parameter at a time and names the parameter in every error."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def integer(self, name: str, default: int, *, minimum: int = 1) -> int:
        value = self._values.get(name, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise TrialFailure(f"parameter {name}={value!r} is not an integer") from None
        if number < minimum:
            raise TrialFailure(f"parameter {name}={number} must be at least {minimum}")
        return number

    def number(self, name: str, default: float, *, low: float = float("-inf"), high: float = float("inf")) -> float:
        value = self._values.get(name, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TrialFailure(f"parameter {name}={value!r} is not a number") from None
        if not low <= number <= high:
            raise TrialFailure(f"parameter {name}={number} must lie in [{low}, {high}]")
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self._values.get(name, default)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = str(self._values.get(name, default)).lower()
        if value not in allowed:
            raise TrialFailure(f"parameter {name}={value!r} is not one of {', '.join(allowed)}")
        return value
