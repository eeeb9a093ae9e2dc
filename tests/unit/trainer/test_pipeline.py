"""Text shaping: padding, truncation and vocabulary clipping."""

from __future__ import annotations

import numpy as np

from services.trainer.datasets import OOV_INDEX, PAD_INDEX
from services.trainer.pipeline import pad_sequences


def _docs(*docs: list[int]) -> np.ndarray:
    out = np.empty(len(docs), dtype=object)
    for i, d in enumerate(docs):
        out[i] = np.array(d, dtype=np.int32)
    return out


def test_short_documents_are_pre_padded() -> None:
    padded = pad_sequences(_docs([5, 6]), length=4, vocab_size=100)
    assert padded.tolist() == [[PAD_INDEX, PAD_INDEX, 5, 6]]


def test_long_documents_keep_their_end() -> None:
    padded = pad_sequences(_docs([2, 3, 4, 5, 6]), length=3, vocab_size=100)
    assert padded.tolist() == [[4, 5, 6]]


def test_words_outside_the_vocabulary_become_oov_and_empty_documents_stay_padding() -> None:
    padded = pad_sequences(_docs([2, 50, 99, 3], []), length=4, vocab_size=50)
    assert padded.tolist() == [[2, OOV_INDEX, OOV_INDEX, 3], [PAD_INDEX] * 4]
    assert padded.dtype == np.int32
