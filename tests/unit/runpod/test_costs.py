"""Cost and fit decisions as plain code: a trial's cost, max_epochs against the execution timeout, pod budgets."""

from __future__ import annotations

import pytest

from services.runpod.costs import EpochTimeBudget, PodBudget, cost_usd
from services.runtime.errors import UserInputError


def test_cost_is_gpu_seconds_at_the_hourly_price() -> None:
    assert cost_usd(1800, 0.44) == pytest.approx(0.22)


@pytest.mark.parametrize(
    ("timeout", "per_epoch", "max_epochs", "fits"),
    [(600, 30, 16, True), (600, 30, 17, False), (60, 20, 2, True), (60, 20, 3, False)],
)
def test_a_trial_fits_when_its_epochs_with_a_margin_fit_the_execution_timeout(
    timeout: float, per_epoch: float, max_epochs: int, fits: bool
) -> None:
    assert (EpochTimeBudget(timeout, per_epoch).refusal(max_epochs) is None) is fits


def test_measured_epochs_replace_the_estimate_then_the_slowest_counts() -> None:
    budget = EpochTimeBudget(600, seconds_per_epoch=100)
    assert budget.refusal(10) is not None
    budget.observe(2.0)
    budget.observe(5.0)
    budget.observe(3.0)
    assert budget.seconds_per_epoch == 5.0 and budget.refusal(90) is None
    refusal = budget.refusal(100)
    assert refusal is not None and "5.0 s per epoch (measured)" in refusal and "max_epochs=96 or less" in refusal


@pytest.mark.parametrize(
    ("running", "adding", "price", "problem"),
    [(0, 3, 0.29, None), (2, 3, 0.29, "over the limit of 4"), (0, 3, 1.2, "over the hourly budget of $3.00")],
)
def test_the_pod_budget_guards_count_and_hourly_cost(
    running: int, adding: int, price: float, problem: str | None
) -> None:
    budget = PodBudget(max_pods=4, max_hourly_usd=3.0)
    if problem is None:
        budget.check(running, adding, price, "NVIDIA RTX A5000")
        return
    with pytest.raises(UserInputError, match=problem.replace("$", r"\$")):
        budget.check(running, adding, price, "NVIDIA RTX A5000")
