"""The preview PNG encoder, checked by an independent decoder (Pillow)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.api.png import encode_png


@pytest.mark.parametrize(("shape", "mode"), [((5, 7), "L"), ((5, 7, 1), "L"), ((5, 7, 3), "RGB"), ((5, 7, 4), "RGBA")])
def test_encoded_pixels_decode_back(shape: tuple[int, ...], mode: str) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png(pixels)))
    assert image.mode == mode and image.size == (7, 5)
    assert np.array_equal(np.asarray(image).reshape(shape), pixels)


def test_float_images_in_unit_range_are_scaled() -> None:
    image = Image.open(io.BytesIO(encode_png(np.array([[0.0, 0.5], [1.0, np.nan]], dtype=np.float32))))
    assert np.asarray(image).tolist() == [[0, 128], [255, 0]]


def test_unsupported_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        encode_png(np.zeros((2, 2, 2), dtype=np.uint8))
