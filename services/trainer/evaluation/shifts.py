"""Simple distribution shifts that need no extra data, seeded: what "robust for production" is measured on.

Images are float32 ``(n, height, width, channels)`` in [0, 1]; text is ``(n, length)`` word indices.

=================  ===========================================================================
shift              what it does
=================  ===========================================================================
gaussian_noise     adds N(0, ``NOISE_STD``) to every pixel, clipped to [0, 1]
shift              moves every image right and down by ``SHIFT_FRACTION`` of its width and height
                   (at least 1 pixel: 2 on 28x28, 1 on 8x8; zeros come in)
rotation           rotates every image by ``ROTATION_DEGREES`` about its centre (nearest pixel)
token_dropout      replaces each word (not padding) with out-of-vocabulary, with probability
                   ``TOKEN_DROPOUT``
=================  ===========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from contracts.enums import Modality
from services.trainer.datasets import OOV_INDEX, PAD_INDEX

NOISE_STD = 0.1
SHIFT_FRACTION = 0.08
ROTATION_DEGREES = 10.0
TOKEN_DROPOUT = 0.1

Array = npt.NDArray[np.generic]
Shift = Callable[[Array, np.random.Generator], Array]


def gaussian_noise(images: Array, rng: np.random.Generator, std: float = NOISE_STD) -> Array:
    noisy = images.astype(np.float32) + rng.normal(0.0, std, size=images.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0)


def shift_pixels(size: int, fraction: float = SHIFT_FRACTION) -> int:
    return max(1, round(size * fraction))


def translate(images: Array, rng: np.random.Generator, pixels: int | None = None) -> Array:
    """``pixels`` (default: ``shift_pixels`` of the smaller side) right and down; ``rng`` is unused (the shift
    is fixed) but keeps one signature."""
    if pixels is None:
        pixels = shift_pixels(min(images.shape[1], images.shape[2]))
    out = np.zeros_like(images)
    if pixels >= images.shape[1] or pixels >= images.shape[2]:
        return out
    out[:, pixels:, pixels:, ...] = images[:, : images.shape[1] - pixels, : images.shape[2] - pixels, ...]
    return out


def rotate(images: Array, rng: np.random.Generator, degrees: float = ROTATION_DEGREES) -> Array:
    """Counter-clockwise by ``degrees`` about the centre; each output pixel takes its nearest source pixel
    (zeros where the source falls outside)."""
    height, width = images.shape[1], images.shape[2]
    theta = math.radians(degrees)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    ys, xs = np.mgrid[0:height, 0:width]
    # Inverse mapping: where in the source each output pixel comes from.
    src_x = math.cos(theta) * (xs - cx) - math.sin(theta) * (ys - cy) + cx
    src_y = math.sin(theta) * (xs - cx) + math.cos(theta) * (ys - cy) + cy
    sx, sy = np.rint(src_x).astype(np.intp), np.rint(src_y).astype(np.intp)
    inside = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    out = np.zeros_like(images)
    out[:, ys[inside], xs[inside], ...] = images[:, sy[inside], sx[inside], ...]
    return out


def token_dropout(sequences: Array, rng: np.random.Generator, rate: float = TOKEN_DROPOUT) -> Array:
    tokens = np.asarray(sequences).copy()
    dropped = (tokens != PAD_INDEX) & (rng.random(tokens.shape) < rate)
    tokens[dropped] = OOV_INDEX
    return tokens


IMAGE_SHIFTS: dict[str, Shift] = {"gaussian_noise": gaussian_noise, "shift": translate, "rotation": rotate}
TEXT_SHIFTS: dict[str, Shift] = {"token_dropout": token_dropout}


def shifts_for(modality: Modality) -> dict[str, Shift]:
    return IMAGE_SHIFTS if modality is Modality.IMAGE else TEXT_SHIFTS
