"""The held-out test split after training, as it is and under each shift: the figures the report labels
"test". They are measured once, never fed back into scoring or pruning.

The split and its shifted copies go through the model in one ``predict`` call when together they take at
most ``ONE_PASS_BYTES``: each ``predict`` call costs a fixed tenth of a second or more (its function,
its data adapter), several times what the digits test set's inference costs. Larger test sets go one
``predict`` per copy, so only one shifted copy is held at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import numpy.typing as npt

from contracts.enums import Modality
from services.trainer.evaluation.calibration import expected_calibration_error
from services.trainer.evaluation.shifts import shifts_for

EPSILON = 1e-7
ONE_PASS_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class TestResults:
    accuracy: float
    loss: float
    ece: float
    robustness: dict[str, float] = field(default_factory=dict)


def _predict(model: keras.Model, x: npt.NDArray[np.generic], batch_size: int) -> npt.NDArray[np.float64]:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)


def accuracy_of(probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.integer]) -> float:
    return float(np.mean(probabilities.argmax(axis=1) == labels)) if len(labels) else 0.0


def cross_entropy(probabilities: npt.NDArray[np.float64], labels: npt.NDArray[np.integer]) -> float:
    """Mean sparse categorical cross-entropy, as Keras computes it from probabilities (clipped at 1e-7)."""
    if not len(labels):
        return 0.0
    picked = np.clip(probabilities[np.arange(len(labels)), labels], EPSILON, 1.0 - EPSILON)
    return float(-np.mean(np.log(picked)))


def evaluate_test_split(
    model: keras.Model,
    x: npt.NDArray[np.generic],
    y: npt.NDArray[np.integer],
    modality: Modality,
    *,
    batch_size: int,
    seed: int,
) -> TestResults:
    """Accuracy, loss and ECE on ``(x, y)``, and the accuracy under each shift of the modality."""
    shifts = shifts_for(modality)
    rngs = [np.random.default_rng(seed + offset) for offset in range(len(shifts))]
    if x.nbytes * (len(shifts) + 1) <= ONE_PASS_BYTES:
        copies = [shift(x, rng) for shift, rng in zip(shifts.values(), rngs, strict=True)]
        everything = _predict(model, np.concatenate([x, *copies]), batch_size)
        probabilities, *shifted = np.split(everything, len(shifts) + 1)
    else:
        probabilities = _predict(model, x, batch_size)
        shifted = [_predict(model, shift(x, rng), batch_size) for shift, rng in zip(shifts.values(), rngs, strict=True)]
    return TestResults(
        accuracy=accuracy_of(probabilities, y),
        loss=cross_entropy(probabilities, y),
        ece=expected_calibration_error(probabilities, y),
        robustness={name: accuracy_of(p, y) for name, p in zip(shifts, shifted, strict=True)},
    )
