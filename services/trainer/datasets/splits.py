"""Seeded, stratified splitting: validation carved from train, three-way splits of a single pool, caps.

Every class is shuffled on its own and each sample gets its quantile within its class; ordering all
samples by that quantile (random tie-break) makes every prefix of the order close to stratified. A
part of size k takes the next k samples of that order, so sizes are exact, each class is shared out
in proportion, and a class with one sample stays in the training part unless a part would be empty.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.trainer.datasets.errors import DatasetError
from services.trainer.datasets.source import RawSplit

Indices = npt.NDArray[np.intp]


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    """Refuse fractions that cannot leave a training part."""
    if not 0.0 < validation_fraction < 1.0 or not 0.0 <= test_fraction < 1.0:
        raise DatasetError(
            f"validation_fraction must be in (0, 1) and test_fraction in [0, 1), got {validation_fraction} "
            f"and {test_fraction}"
        )
    if validation_fraction + test_fraction >= 1.0:
        raise DatasetError(
            f"validation_fraction + test_fraction must stay below 1, got {validation_fraction + test_fraction}"
        )


def stratified_order(y: npt.NDArray[np.int64], rng: np.random.Generator) -> Indices:
    """Indices of ``y`` ordered so that every prefix holds each class in proportion."""
    quantile = np.empty(len(y), dtype=np.float64)
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        quantile[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.lexsort((rng.random(len(y)), quantile)).astype(np.intp)


def part_size(n: int, fraction: float) -> int:
    """``round(n * fraction)``, at least 1 when ``fraction > 0`` and ``n >= 2``, never all of ``n``."""
    if fraction <= 0.0 or n < 2:
        return 0
    return min(max(1, round(n * fraction)), n - 1)


def split_pool(
    y: npt.NDArray[np.int64], validation_fraction: float, test_fraction: float, rng: np.random.Generator
) -> tuple[Indices, Indices, Indices]:
    """``(train, validation, test)`` indices of one pool, stratified."""
    n = len(y)
    n_val = part_size(n, validation_fraction)
    n_test = part_size(n, test_fraction)
    if n - n_val - n_test < 1 or n_val < 1:
        raise DatasetError(f"only {n} samples: too few to split into train, validation and test")
    order = stratified_order(y, rng)
    val, test, train = order[:n_val], order[n_val : n_val + n_test], order[n_val + n_test :]
    return rng.permutation(train), rng.permutation(val), rng.permutation(test)


def carve(y: npt.NDArray[np.int64], fraction: float, rng: np.random.Generator) -> tuple[Indices, Indices]:
    """``(rest, carved)``: a stratified ``fraction`` of ``y`` carved out (at least one sample)."""
    n_carved = part_size(len(y), fraction)
    if n_carved < 1:
        raise DatasetError(f"the training split holds only {len(y)} sample(s): too few to carve a validation split")
    order = stratified_order(y, rng)
    return rng.permutation(order[n_carved:]), rng.permutation(order[:n_carved])


def subsample(y: npt.NDArray[np.int64], n: int, rng: np.random.Generator) -> Indices:
    """A stratified random subset of ``n`` indices (all of them, shuffled, when ``n >= len(y)``)."""
    return rng.permutation(stratified_order(y, rng)[:n])


def take(split: RawSplit, indices: Indices) -> RawSplit:
    """The samples of ``split`` at ``indices``."""
    return RawSplit(split.x[indices], split.y[indices])
