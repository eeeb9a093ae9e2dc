"""Hyperparameter importance: fANOVA over an in-memory Optuna study rebuilt from the scored trials.

With fewer than ``MIN_TRIALS`` scored trials nothing is estimated (the plot says so). When fANOVA
fails (e.g. every score is equal) the absolute Spearman rank correlation with the score stands in.
"""

from __future__ import annotations

import importlib
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contracts.enums import ParamType
from contracts.search_space import ParamSpec
from services.reporter.results.view import StudyView, TrialView

MIN_TRIALS = 3
MAX_FANOVA_TRIALS = 500
# Optuna's defaults are 64 trees of depth 64; 32 trees of depth 12 rank the same parameters on the studies of
# tests/unit/reporter (their marginal variances are what costs) in about a quarter of the time.
FANOVA_TREES = 32
FANOVA_DEPTH = 12
"""fANOVA's forest costs grow faster than the trials (about 4 s for 500 on a core, minutes for 2,000):
a longer study is estimated on a fixed random sample of this many scored trials."""

FANOVA_MODULE = "optuna.importance"
"""Importing it imports scikit-learn and much of SciPy: 2 to 3 s, which ``import_ahead`` takes off the report."""
_import_started = threading.Event()

FANOVA = "fANOVA"
SPEARMAN = "|Spearman correlation| (fallback)"
NONE = "not estimated"


@dataclass(frozen=True)
class Importance:
    """Importance per parameter (descending), how it was measured, and a line saying so."""

    method: str
    note: str
    values: dict[str, float] = field(default_factory=dict)


def import_ahead() -> None:
    """Import fANOVA's modules in a background thread, once per process (later calls return at once), so
    that the report need not wait for them. The reporter calls it when a study's first trial starts: the
    imports then run while trials train, not while the study is being set up."""
    if _import_started.is_set():
        return
    _import_started.set()
    threading.Thread(target=importlib.import_module, args=(FANOVA_MODULE,), name="import-fanova", daemon=True).start()


def import_now() -> None:
    """Import fANOVA's modules in this thread (a served reporter, at start-up: its first report, and the
    trials it projects meanwhile, never pay for them); ``import_ahead`` does nothing after it."""
    _import_started.set()
    importlib.import_module(FANOVA_MODULE)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _distribution(spec: ParamSpec | None, values: list[Any]) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if spec is not None and spec.type is ParamType.CATEGORICAL and spec.choices:
        if all(v in spec.choices for v in values):
            return CategoricalDistribution(spec.choices)
    elif spec is not None and spec.low is not None and spec.high is not None:
        low, high = spec.low, spec.high
        if all(_is_number(v) and low <= v <= high for v in values):
            if spec.type is ParamType.INT and all(isinstance(v, int) for v in values):
                return IntDistribution(int(low), int(high), log=spec.log)
            return FloatDistribution(low, high, log=spec.log)
    if all(_is_number(v) for v in values):
        low, high = float(min(values)), float(max(values))
        return FloatDistribution(low, high) if high > low else None
    choices = sorted({v for v in values if v is None or isinstance(v, bool | int | float | str)}, key=repr)
    return CategoricalDistribution(choices) if len(choices) > 1 else None


def _fanova(view: StudyView, trials: list[TrialView], names: list[str]) -> dict[str, float]:
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances  # see import_ahead

    distributions = {}
    for name in names:
        values = [t.record.params[name] for t in trials]
        if len({repr(v) for v in values}) < 2:
            continue  # a parameter that never varies explains nothing
        dist = _distribution(view.param_specs.get(name), values)
        if dist is not None:
            distributions[name] = dist
    if not distributions:
        raise ValueError("no parameter varies across the scored trials")
    quiet = [logging.getLogger(name) for name in ("optuna.study.study", "optuna.storages._in_memory")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)  # no "A new study created in memory" line per report
    try:
        study = optuna.create_study(direction="maximize")
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    for trial in trials:
        study.add_trial(
            optuna.trial.create_trial(
                params={name: trial.record.params[name] for name in distributions},
                distributions=distributions,
                value=trial.score,
            )
        )
    evaluator = FanovaImportanceEvaluator(n_trees=FANOVA_TREES, max_depth=FANOVA_DEPTH, seed=0)
    importances = get_param_importances(study, evaluator=evaluator)
    return {name: float(value) for name, value in importances.items()}


def _ranks(values: list[Any]) -> np.ndarray:
    keys = [v if _is_number(v) else repr(v) for v in values]
    order = sorted(range(len(keys)), key=lambda i: (isinstance(keys[i], str), keys[i]))
    ranks = np.empty(len(keys))
    ranks[order] = np.arange(len(keys))
    return ranks


def _spearman(trials: list[TrialView], names: list[str]) -> dict[str, float]:
    scores = _ranks([t.score for t in trials])
    result = {}
    for name in names:
        ranks = _ranks([t.record.params[name] for t in trials])
        if np.std(ranks) == 0 or np.std(scores) == 0:
            result[name] = 0.0
        else:
            result[name] = float(abs(np.corrcoef(ranks, scores)[0, 1]))
    return dict(sorted(result.items(), key=lambda kv: -kv[1]))


def param_importances(view: StudyView) -> Importance:
    """How much each hyperparameter explains the score of the scored trials."""
    trials = [t for t in view.scored if t.score is not None]
    names = [n for n in view.param_names if all(n in t.record.params for t in trials)]
    if len(trials) < MIN_TRIALS or not names:
        return Importance(
            method=NONE,
            note=f"fANOVA needs at least {MIN_TRIALS} scored trials with parameters; this study has {len(trials)}.",
        )
    sample = trials
    note = f"fANOVA over {len(trials)} scored trials"
    if len(trials) > MAX_FANOVA_TRIALS:
        sample = random.Random(0).sample(trials, MAX_FANOVA_TRIALS)
        note = f"fANOVA over a random sample of {MAX_FANOVA_TRIALS} of the {len(trials)} scored trials"
    try:
        values = _fanova(view, sample, names)
        return Importance(method=FANOVA, note=note, values=values)
    except Exception as exc:  # any fANOVA failure falls back to correlations
        return Importance(
            method=SPEARMAN,
            note=f"fANOVA failed ({type(exc).__name__}: {exc}); showing |Spearman rank correlation| with the score",
            values=_spearman(trials, names),
        )
