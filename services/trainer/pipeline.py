"""The tf.data input pipeline: batches of a split, shaped for the trial's model.

Images pass through as float32 (N, H, W, C). Text is clipped to the trial's ``vocab_size``
(indices at or above it become the out-of-vocabulary index) and pre-padded / truncated to its
``sequence_length``, keeping the end of each document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import tensorflow as tf

from contracts.enums import Modality
from services.trainer.datasets import OOV_INDEX, PAD_INDEX, DatasetSplits, Split
from services.trainer.models.params import TrialParams


@dataclass(frozen=True)
class TrialInputs:
    """Arrays and batched datasets for one trial."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    train_size: int
    probe_x: npt.NDArray[np.generic]
    probe_y: npt.NDArray[np.int64]
    input_shape: tuple[int, ...]


def pad_sequences(sequences: npt.NDArray[np.generic], length: int, vocab_size: int) -> npt.NDArray[np.int32]:
    """Pre-pad with ``PAD_INDEX`` / keep the last ``length`` tokens; map rare words to ``OOV_INDEX``."""
    out = np.full((len(sequences), length), PAD_INDEX, dtype=np.int32)
    for row, sequence in enumerate(sequences):
        tokens = np.asarray(sequence, dtype=np.int32)[-length:]
        if len(tokens):
            out[row, -len(tokens) :] = np.where(tokens >= vocab_size, OOV_INDEX, tokens)
    return out


def features(split: Split, modality: Modality, params: TrialParams) -> npt.NDArray[np.generic]:
    """A split as the trial's model takes it: float32 images, or padded, clipped word indices."""
    if modality is Modality.IMAGE:
        return split.x.astype(np.float32, copy=False)
    return pad_sequences(
        split.x, params.integer("sequence_length", 128), params.integer("vocab_size", 10000, minimum=3)
    )


def build_inputs(splits: DatasetSplits, params: TrialParams, *, seed: int, probe_samples: int) -> TrialInputs:
    batch_size = params.integer("batch_size", 32)
    arrays = {
        name: (features(split, splits.modality, params), split.y)
        for name, split in (("train", splits.train), ("validation", splits.validation), ("test", splits.test))
    }

    def batched(name: str, *, shuffle: bool) -> tf.data.Dataset:
        x, y = arrays[name]
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    probe_source = "validation" if len(splits.validation) else "train"
    probe_x, probe_y = arrays[probe_source]
    return TrialInputs(
        train=batched("train", shuffle=True),
        validation=batched("validation", shuffle=False),
        test=batched("test", shuffle=False),
        train_size=len(splits.train),
        probe_x=probe_x[:probe_samples],
        probe_y=probe_y[:probe_samples],
        input_shape=tuple(int(d) for d in arrays["train"][0].shape[1:]),
    )
