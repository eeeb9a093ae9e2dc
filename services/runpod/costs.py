"""What GPU time costs, and what fits: a trial's cost, the execution-timeout check, the pods' budget."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.errors import UserInputError

SAFETY_FACTOR = 1.25
"""A trial must fit the execution timeout with this much room (start-up, evaluation, saving the model)."""


def cost_usd(gpu_seconds: float, price_per_hour: float) -> float:
    return gpu_seconds / 3600.0 * price_per_hour


@dataclass
class EpochTimeBudget:
    """Whether a trial's ``max_epochs`` fits the endpoint's execution timeout.

    Starts from the configured estimate of seconds per epoch and learns from measured epochs (the
    slowest seen), so a refusal is based on what the endpoint really does once a trial has run."""

    execution_timeout_seconds: float
    seconds_per_epoch: float
    measured: bool = False

    def observe(self, epoch_seconds: float) -> None:
        if not self.measured:
            self.seconds_per_epoch, self.measured = epoch_seconds, True
        else:
            self.seconds_per_epoch = max(self.seconds_per_epoch, epoch_seconds)

    def max_epochs(self) -> int:
        return int(self.execution_timeout_seconds / (self.seconds_per_epoch * SAFETY_FACTOR))

    def refusal(self, max_epochs: int) -> str | None:
        """Why a trial of ``max_epochs`` cannot run on the endpoint (None: it fits)."""
        needed = max_epochs * self.seconds_per_epoch * SAFETY_FACTOR
        if needed <= self.execution_timeout_seconds:
            return None
        source = "measured" if self.measured else "estimated (HPO_RUNPOD_SECONDS_PER_EPOCH)"
        return (
            f"max_epochs={max_epochs} cannot fit the endpoint's execution timeout of "
            f"{self.execution_timeout_seconds:.0f} s at {self.seconds_per_epoch:.1f} s per epoch ({source}); "
            f"use max_epochs={max(self.max_epochs(), 1)} or less, or raise the endpoint's execution timeout "
            "(and HPO_RUNPOD_EXECUTION_TIMEOUT_SECONDS)"
        )


@dataclass(frozen=True)
class PodBudget:
    """The cost guards of ``hpo runpod up``."""

    max_pods: int
    max_hourly_usd: float

    def check(self, running: int, adding: int, price_per_hour: float, gpu_type: str) -> None:
        total = running + adding
        if total > self.max_pods:
            raise UserInputError(
                f"{adding} more pods would make {total}, over the limit of {self.max_pods}; "
                "use a smaller --count, 'hpo runpod down' first, or raise --max-pods"
            )
        hourly = total * price_per_hour
        if hourly > self.max_hourly_usd:
            raise UserInputError(
                f"{total} pods of {gpu_type} at ${price_per_hour:.2f}/h cost ${hourly:.2f}/h, over the hourly "
                f"budget of ${self.max_hourly_usd:.2f}; use a smaller --count or raise --max-hourly-usd"
            )
