"""Sampler choice: TPE (default; constant liar when trials run in parallel), random, CMA-ES, GP, grid."""

from __future__ import annotations

import importlib.util
import warnings

import optuna

from contracts.enums import SamplerName
from contracts.search_space import SearchSpace
from services.runtime.errors import UserInputError
from services.scheduler.bounded_history import BoundedHistorySampler
from services.scheduler.search_space import grid_values

# Optuna marks constant_liar, multivariate TPE and GPSampler "experimental"; the notice is for Optuna's own
# users choosing features, not for ours, whose terminals and service logs it filled.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def tpe_startup_trials(trials: int | None) -> int:
    """Random trials before TPE models the scores: 5, but at most half of a short study's trials (at least 2),
    so that a study of fewer than 10 trials still spends some on what its score taught it."""
    return 5 if trials is None else min(5, max(2, trials // 2))


def build_sampler(
    name: SamplerName,
    space: SearchSpace,
    *,
    seed: int | None,
    parallel: bool,
    history: int = 0,
    trials: int | None = None,
) -> optuna.samplers.BaseSampler:
    """The study's sampler; with ``history`` > 0, TPE, CMA-ES and GP learn from at most that many finished
    trials (``bounded_history``). Random and grid sampling read no history, or all of it (grid: which
    points ran), and are never bounded. ``trials`` (the study's budget) bounds TPE's random start-up."""
    sampler = _sampler(name, space, seed=seed, parallel=parallel, trials=trials)
    if history > 0 and name in (SamplerName.TPE, SamplerName.CMAES, SamplerName.GP):
        return BoundedHistorySampler(sampler, history)
    return sampler


def _sampler(
    name: SamplerName, space: SearchSpace, *, seed: int | None, parallel: bool, trials: int | None
) -> optuna.samplers.BaseSampler:
    if name is SamplerName.TPE:
        startup = tpe_startup_trials(trials)
        return optuna.samplers.TPESampler(
            seed=seed, constant_liar=parallel, multivariate=True, n_startup_trials=startup
        )
    if name is SamplerName.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    if name is SamplerName.CMAES:
        if importlib.util.find_spec("cmaes") is None:
            raise UserInputError("sampler=cmaes needs the 'cmaes' package: pip install 'hpo[scheduler]'")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, n_startup_trials=3)
    if name is SamplerName.GP:
        if importlib.util.find_spec("torch") is None:
            raise UserInputError("sampler=gp needs PyTorch: pip install 'hpo[gp]' (or choose sampler=tpe)")
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=5)
    grid = {spec.name: grid_values(spec) for spec in space.params}
    return optuna.samplers.GridSampler(grid, seed=seed)
