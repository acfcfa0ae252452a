"""PNG files from pixel arrays with the standard library alone (zlib and struct), no Pillow.

The always-on JSON log saves images as MMEngine's ``LocalVisBackend`` does,
so it must not need an imaging library: an 8-bit PNG is a few framed,
deflate-compressed rows.
"""

from __future__ import annotations

import os
import struct
import zlib

from ._backend import image_to_hwc_uint8

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["encode_png", "write_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: grey, RGB, RGBA


def encode_png(image: Any) -> bytes:
    """The bytes of an 8-bit PNG of `image` (any layout `LoggerBackend.log_image` accepts)."""
    import numpy as np

    pixels = image_to_hwc_uint8(image)
    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels)
    # Each row starts with its filter type; 0 (none) keeps the encoder trivial.
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return b"".join(
        (_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw)), _chunk(b"IEND"))
    )


def write_png(path: str, image: Any) -> None:
    """Save `image` as a PNG at `path`, atomically: readers never see half a file."""
    data = encode_png(image)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    partial = f"{path}.{os.getpid()}.part"
    with open(partial, "wb") as file:
        file.write(data)
    os.replace(partial, path)


def _chunk(kind: bytes, data: bytes = b"") -> bytes:
    """One PNG chunk: length, type, data, and the CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
