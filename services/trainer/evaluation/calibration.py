"""Expected calibration error: how far a model's confidence is from its accuracy.

``ECE = sum_b (n_b / n) * |accuracy_b - confidence_b|`` over ``bins`` equal-width bins of the top-class
probability (a confidence of exactly 1 falls in the last bin). 0 is perfectly calibrated; a model that
says 90% and is right 60% of the time in that bin adds 0.3 times the bin's share.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_BINS = 15


def expected_calibration_error(
    probabilities: npt.NDArray[np.floating], labels: npt.NDArray[np.integer], bins: int = DEFAULT_BINS
) -> float:
    """ECE of class probabilities ``(n, classes)`` against integer labels ``(n,)``; 0.0 for no samples."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"probabilities must be (n, classes) for {len(labels)} labels, not {probs.shape}")
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        if count:
            total += count / len(probs) * abs(float(correct[members].mean()) - float(confidence[members].mean()))
    return total
