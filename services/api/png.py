"""A minimal PNG encoder for 8-bit grayscale and RGB arrays (dataset previews need no imaging library)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)


def to_uint8(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """Float images in [0, 1] (or [0, 255]) and integer images as uint8 pixels."""
    if image.dtype == np.uint8:
        return image.astype(np.uint8, copy=False)
    values = np.asarray(image, dtype=np.float64)
    if values.size and np.nanmax(values) <= 1.0:
        values = values * 255.0
    return np.clip(np.nan_to_num(values), 0, 255).round().astype(np.uint8)


def encode_png(image: npt.NDArray[np.generic]) -> bytes:
    """PNG bytes of an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image."""
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in _COLOR_TYPES:
        raise ValueError(f"cannot encode an image of shape {pixels.shape} as PNG")
    height, width, channels = pixels.shape
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
