"""Pruner choice and the per-epoch prune decision (median or successive halving / Hyperband)."""

from __future__ import annotations

import optuna

from contracts.enums import PrunerName


def build_pruner(name: PrunerName, *, trials: int, max_epochs: int) -> optuna.pruners.BasePruner:
    """Median: prune a trial whose epoch value is below the median of earlier trials at that epoch,
    once ``n_startup_trials`` trials (a quarter of the study, 2 to 5) have completed, and never
    before epoch 2 (first epochs are too noisy to judge) unless the study trains only 2 epochs.
    Hyperband: brackets of successive halving from 1 epoch up to ``max_epochs``."""
    if name is PrunerName.MEDIAN:
        startup = min(5, max(2, trials // 4))
        warmup = max(1, min(2, max_epochs - 1))  # Optuna prunes from step == n_warmup_steps on
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup, interval_steps=1)
    if name is PrunerName.HYPERBAND:
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1), reduction_factor=3)
    return optuna.pruners.NopPruner()
