"""Image bytes for inference tests: encoded with Pillow, the way clients produce them."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter

from app.errors import InvalidInput


def encode(img: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_with_size(width: int, height: int) -> bytes:
    """A tiny grayscale PNG whose header claims ``width`` x ``height``: a decompression bomb."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    ihdr = 8  # IHDR chunk starts right after the 8-byte signature
    data[ihdr + 8:ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4:ihdr + 8 + 13]))
    data[ihdr + 8 + 13:ihdr + 8 + 17] = struct.pack(">I", crc)
    return bytes(data)


def scaled_ink(digit: np.ndarray, side: int) -> np.ndarray:
    """A [0, 1] digit array scaled up to ``side`` pixels, as uint8 ink (255 = full ink)."""
    img = Image.fromarray(np.round(digit * 255).astype(np.uint8))
    return np.asarray(img.resize((side, side), Image.Resampling.BICUBIC))


def render(digit: np.ndarray, style: str) -> bytes:
    """A model-space digit drawn the way a user would send it: dark ink on paper, with margins.

    styles: png, jpeg, alpha (transparent background, opaque dark ink), offcentre, grey
    (grey paper, grey ink: low contrast), thin (a fine pen: strokes half MNIST's width).
    """
    ink = scaled_ink(digit, 120)
    if style == "thin":
        ink = np.asarray(Image.fromarray(ink).filter(ImageFilter.MinFilter(5)))
    if style == "alpha":
        layer = np.zeros((120, 120, 4), dtype=np.uint8)
        layer[..., :3] = 20
        layer[..., 3] = ink
        canvas = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # transparent *black*
        canvas.paste(Image.fromarray(layer), (40, 40))
        return encode(canvas)
    if style == "grey":
        paper = Image.new("L", (200, 200), 190)
        paper.paste(Image.fromarray((190 - 0.6 * ink).astype(np.uint8)), (40, 40))
        return encode(paper)
    size, at = ((260, 200), (8, 72)) if style == "offcentre" else ((200, 200), (40, 40))
    paper = Image.new("L", size, 255)
    paper.paste(Image.fromarray(255 - ink), at)
    if style == "jpeg":
        return encode(paper.convert("RGB"), "JPEG", quality=75)
    return encode(paper)


def b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode()}


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference, forgiving the one-pixel shifts that MNIST's own
    centring leaves (its centres of mass are only within half a pixel of the centre)."""
    return min(float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean())
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def only_error(exc: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str, int]:
    assert len(exc.value.errors) == 1
    err = exc.value.errors[0]
    assert err.hint, "every error says how to fix it"
    return err.pointer, err.message, exc.value.status
