"""Tokenizing text and turning token lists into word-index sequences.

Index 0 is padding, 1 is out-of-vocabulary, and every token seen in the training split gets an
index from 2 upwards in order of falling frequency (ties broken by the token itself, so the ranking
does not depend on document order). The trainer clips indices to its vocab_size and pads per trial.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from services.trainer.datasets.base import FIRST_WORD_INDEX, OOV_INDEX
from services.trainer.datasets.source import object_array

_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Lowercase words of ``text`` after removing HTML tags such as ``<br />``."""
    return _WORD.findall(_TAG.sub(" ", text).lower())


def build_vocabulary(documents: Iterable[Sequence[Hashable]]) -> dict[Any, int]:
    """``token -> index`` for every token in ``documents``, most frequent first, starting at 2."""
    counts: Counter[Any] = Counter()
    for doc in documents:
        counts.update(doc)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {token: rank for rank, (token, _) in enumerate(ranked, start=FIRST_WORD_INDEX)}


def encode(documents: Iterable[Sequence[Hashable]], vocabulary: dict[Any, int]) -> npt.NDArray[np.object_]:
    """An object array of int32 index arrays; tokens missing from ``vocabulary`` map to 1 (OOV)."""
    get = vocabulary.get
    encoded = [
        np.fromiter((get(token, OOV_INDEX) for token in doc), dtype=np.int32, count=len(doc)) for doc in documents
    ]
    return object_array(encoded)
