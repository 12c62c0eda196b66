"""A short cut for the commonest upload: a small, plain, 8-bit PNG (what Pillow, NumPy savers
and MNIST tools write for a digit).

``Image.open`` and ``load`` spend ~38 µs, mostly Python, on such a 28x28 file (plugin lookup,
the chunk reader, decoder set-up). Here its chunks are checked with ``struct`` and
``zlib.crc32`` and its pixel data handed straight to Pillow's own PNG ("zip") decoder, which
unfilters exactly as ``load`` would: ~20 µs. Anything this module is not sure of (a palette,
16-bit or packed pixels, interlacing, any ancillary chunk, a bad CRC, data that does not
decode) gives None, and the caller opens the file with Pillow as before, so every refusal
and its message stay Pillow's.
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Small images only: for big ones the saving is noise, and Pillow's open keeps doing the
# decompression-bomb checks (app.inference.decoding.image.MAX_PIXELS) on its own.
MAX_PIXELS = 256 * 256
_IHDR = struct.Struct(">IIBBBBB")  # width, height, bit depth, colour type, compression,
# filter method, interlace; only deflate (0), adaptive filtering (0), not interlaced (0).
_PLAIN = (0, 0, 0)
# (bit depth, colour type) -> the mode and raw mode PngImagePlugin gives them.
_MODES = {(8, 0): "L", (8, 2): "RGB", (8, 4): "LA", (8, 6): "RGBA"}


def open_plain_png(data: bytes) -> Image.Image | None:
    """The decoded image, exactly as ``Image.open(...).load()`` gives it, or None when the
    file is not a small, well-formed PNG made of IHDR, IDAT and IEND chunks only."""
    parts = _chunks(data)
    if parts is None or len(parts) < 3 or parts[0][0] != b"IHDR" or len(parts[0][1]) != 13:
        return None
    width, height, depth, colour, *method = _IHDR.unpack(parts[0][1])
    mode = _MODES.get((depth, colour))
    if mode is None or tuple(method) != _PLAIN or not 0 < width * height <= MAX_PIXELS:
        return None
    kinds = [kind for kind, _ in parts[1:]]
    if kinds[-1] != b"IEND" or any(kind != b"IDAT" for kind in kinds[:-1]):
        return None  # tRNS, eXIf, text, APNG frames...: Pillow knows what they mean
    stream = b"".join(body for _, body in parts[1:-1])
    try:
        return Image.frombytes(mode, (width, height), stream, "zip", mode)
    except (ValueError, OSError):  # truncated or corrupt: let Image.open say which
        return None


def _chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    """(type, body) of every chunk, if the file is exactly a signature and CRC-valid chunks."""
    if not data.startswith(SIGNATURE):
        return None
    parts, pos, end = [], len(SIGNATURE), len(data)
    while pos < end:
        if pos + 12 > end:
            return None
        (length,) = struct.unpack_from(">I", data, pos)
        stop = pos + 12 + length
        if stop > end:
            return None
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : stop - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[stop - 4 : stop], "big"):
            return None
        parts.append((kind, body))
        pos = stop
    return parts
