"""Expected calibration error and the robustness shifts on constructed arrays."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.enums import Modality
from services.trainer.datasets import OOV_INDEX, PAD_INDEX
from services.trainer.evaluation.calibration import expected_calibration_error
from services.trainer.evaluation.shifts import (
    gaussian_noise,
    rotate,
    shift_pixels,
    shifts_for,
    token_dropout,
    translate,
)
from services.trainer.evaluation.test_set import accuracy_of, cross_entropy


def test_ece_of_a_perfectly_calibrated_model_is_zero() -> None:
    # Confidence 0.75 in every row, right in 3 of 4 rows.
    probs = np.array([[0.75, 0.25], [0.75, 0.25], [0.75, 0.25], [0.75, 0.25]])
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_ece_weighs_each_bins_gap_by_its_share() -> None:
    # Bin of 0.9 confidence: 2 rows, both wrong -> gap 0.9; bin of 0.6: 2 rows, both right -> gap 0.4.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    labels = np.array([1, 1, 1, 1])
    assert expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.5 * 0.9 + 0.5 * 0.4)


def test_ece_puts_full_confidence_in_the_last_bin_and_refuses_bad_shapes() -> None:
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == pytest.approx(0.0)
    assert expected_calibration_error(np.zeros((0, 3)), np.array([], dtype=np.int64)) == 0.0
    with pytest.raises(ValueError, match="bins"):
        expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0]), bins=0)
    with pytest.raises(ValueError, match="classes"):
        expected_calibration_error(np.array([1.0, 0.0]), np.array([0, 1]))


def test_accuracy_and_cross_entropy_from_probabilities() -> None:
    probs = np.array([[0.5, 0.5], [0.1, 0.9], [1.0, 0.0]])
    labels = np.array([0, 1, 1])
    assert accuracy_of(probs, labels) == pytest.approx(2 / 3)  # argmax of a tie is the first class
    expected = -(np.log(0.5) + np.log(0.9) + np.log(1e-7)) / 3
    assert cross_entropy(probs, labels) == pytest.approx(expected, rel=1e-6)


def _images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((3, 28, 28, 1)).astype(np.float32)


def test_gaussian_noise_is_seeded_clipped_and_small() -> None:
    images = _images()
    a, b = gaussian_noise(images, np.random.default_rng(5)), gaussian_noise(images, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == images.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert 0.03 < float(np.mean(np.abs(a - images))) < 0.1


def test_translate_moves_pixels_right_and_down_by_a_share_of_the_side() -> None:
    images = np.zeros((1, 28, 28, 1), dtype=np.float32)
    images[0, 5, 7, 0] = 1.0
    moved = translate(images, np.random.default_rng(0))
    assert shift_pixels(28) == 2 and shift_pixels(8) == 1
    assert moved[0, 7, 9, 0] == 1.0 and moved.sum() == 1.0
    assert translate(images, np.random.default_rng(0), pixels=30).sum() == 0.0


def test_rotate_by_zero_is_identity_and_keeps_the_centre() -> None:
    images = _images()
    assert np.array_equal(rotate(images, np.random.default_rng(0), degrees=0.0), images)
    odd = np.zeros((1, 9, 9, 1), dtype=np.float32)
    odd[0, 4, 4, 0] = 1.0
    odd[0, 4, 8, 0] = 2.0  # right of the centre
    turned = rotate(odd, np.random.default_rng(0), degrees=90.0)
    assert turned[0, 4, 4, 0] == 1.0
    assert turned[0, 0, 4, 0] == 2.0  # counter-clockwise: right of the centre goes to the top


def test_token_dropout_replaces_words_never_padding() -> None:
    tokens = np.array([[0, 0, 5, 6, 7, 8] * 50])
    dropped = token_dropout(tokens, np.random.default_rng(1), rate=0.5)
    assert np.array_equal(dropped == PAD_INDEX, tokens == PAD_INDEX)
    changed = (dropped != tokens)[tokens != PAD_INDEX]
    assert np.all(dropped[dropped != tokens] == OOV_INDEX)
    assert 0.35 < changed.mean() < 0.65
    assert np.array_equal(token_dropout(tokens, np.random.default_rng(1), rate=0.0), tokens)


def test_each_modality_gets_its_shifts() -> None:
    assert list(shifts_for(Modality.IMAGE)) == ["gaussian_noise", "shift", "rotation"]
    assert list(shifts_for(Modality.TEXT)) == ["token_dropout"]


class BatchCountingModel:
    """A stand-in for ``keras.Model.predict_on_batch``: a fixed linear map of the flattened pixels, recording the
    size of each batch it is given."""

    def __init__(self, classes: int = 3) -> None:
        self.batches: list[int] = []
        self._weights = np.random.default_rng(7).normal(size=(8 * 8, classes))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = x.reshape(len(x), -1) @ self._weights
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(len(x))
        return self.probabilities(x)


def test_the_test_split_and_each_shifted_copy_go_through_the_model_a_batch_at_a_time() -> None:
    from services.trainer.evaluation import shifts, test_set

    images = np.random.default_rng(3).random((300, 8, 8, 1)).astype(np.float32)
    labels = np.random.default_rng(4).integers(0, 3, 300)
    model = BatchCountingModel()
    results = test_set.evaluate_test_split(model, images, labels, Modality.IMAGE, batch_size=128, seed=5)
    assert model.batches == [128, 128, 44] * 4  # the split, then each of its three shifted copies
    whole = model.probabilities(images)
    assert results.accuracy == pytest.approx(test_set.accuracy_of(whole, labels))
    assert results.loss == pytest.approx(test_set.cross_entropy(whole, labels))
    noisy = model.probabilities(shifts.gaussian_noise(images, np.random.default_rng(5)))
    assert results.robustness["gaussian_noise"] == pytest.approx(test_set.accuracy_of(noisy, labels))
    assert len(set(results.robustness.values())) > 1  # each shift was measured on its own copy
