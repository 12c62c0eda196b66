"""The plain-PNG short cut decodes exactly as Image.open does, or declines."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from app.inference.decoding.png import open_plain_png
from tests.fixtures.images import encode, png_with_size


def pillow(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def digit(mode: str) -> Image.Image:
    """A 28x28 image with gradients and edges, so the encoder uses every filter type."""
    rows, cols = np.indices((28, 28))
    gray = ((rows * 9 + cols * cols) % 256).astype(np.uint8)
    gray[8:20, 10:14] = 255
    return Image.fromarray(gray).convert(mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "RGBA"])
@pytest.mark.parametrize("optimize", [False, True])
def test_same_pixels_as_pillow(mode: str, optimize: bool) -> None:
    data = encode(digit(mode), optimize=optimize)
    plain, opened = open_plain_png(data), pillow(data)
    assert plain is not None
    assert (plain.mode, plain.size) == (opened.mode, opened.size)
    assert plain.tobytes() == opened.tobytes()
    assert not plain.info  # nothing for exif_transpose to read


def test_declines_what_it_does_not_handle() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "a digit")
    whole = encode(digit("L"))
    declined = [
        b"",
        b"not a png",
        encode(digit("P")),  # palette
        encode(digit("1")),  # 1-bit
        encode(Image.fromarray(np.zeros((4, 4), dtype=np.uint16))),  # 16-bit
        encode(digit("L"), pnginfo=text),  # an ancillary chunk
        encode(digit("L"), transparency=0),  # tRNS
        encode(digit("L").resize((300, 300))),  # large: Image.open checks bombs
        whole[: len(whole) // 2],  # truncated
        whole + b"trailing",
        whole[:-5] + bytes([whole[-5] ^ 1]) + whole[-4:],  # bad CRC
        png_with_size(20_000, 20_000),
        encode(Image.new("L", (10, 10)), "JPEG"),
    ]
    assert [open_plain_png(data) for data in declined] == [None] * len(declined)


def test_declines_corrupt_pixel_data() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(body, zlib.crc32(kind))
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
    for rows in (b"\x05\x00\x00\x05\x00\x00", b"\x00\x00"):  # a bad filter byte; too short
        data = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(rows))
        assert open_plain_png(data + chunk(b"IEND", b"")) is None
