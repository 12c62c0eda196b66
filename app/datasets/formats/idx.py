"""IDX, the original MNIST distribution: an images file and a labels file, gzipped or not.

Header (big-endian): two zero bytes, a type code, the number of dimensions, then one uint32
per dimension; the data follows and must be exactly as long as the header says.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from typing import IO

import numpy as np

from app.datasets.formats.common import Converted, Limits, Options, Part, bad, finish

GZIP_MAGIC = b"\x1f\x8b"
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HINT = "upload the files exactly as published (train-images-idx3-ubyte[.gz] and its labels)"


def convert(images: Part, labels: Part, options: Options, limits: Limits) -> Converted:
    x = read_idx(images, limits, ndims=(2, 3))
    y = read_idx(labels, limits, ndims=(1,))
    return finish(x, y, x_pointer=images.pointer, y_pointer=labels.pointer, size=options.size)


def looks_like_idx(head: bytes) -> bool:
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in TYPES and 1 <= head[3] <= 4


def read_idx(part: Part, limits: Limits, ndims: tuple[int, ...]) -> np.ndarray:
    part.stream.seek(0)
    gzipped = part.stream.read(2) == GZIP_MAGIC
    part.stream.seek(0)
    stream: IO[bytes] = part.stream
    if gzipped:
        stream = gzip.GzipFile(fileobj=part.stream, mode="rb")  # type: ignore[assignment]
    try:
        return _read(part, stream, limits, ndims)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise bad(part.pointer, f"the gzip data is damaged ({exc})", _HINT) from exc


def _read(part: Part, stream: IO[bytes], limits: Limits, ndims: tuple[int, ...]) -> np.ndarray:
    head = stream.read(4)
    if not looks_like_idx(head):
        raise bad(
            part.pointer,
            f"the file does not start with an IDX header (first bytes {head.hex() or 'none'})",
            _HINT,
        )
    code, n = head[2], head[3]
    if n not in ndims:
        what = "labels" if ndims == (1,) else "images"
        raise bad(
            part.pointer,
            f"the IDX file has {n} dimensions; {what} need {' or '.join(map(str, ndims))}",
            f"send the {what} file in this part"
            + (" (did you swap images and labels?)" if n in (1, 3) else ""),
        )
    raw = stream.read(4 * n)
    if len(raw) < 4 * n:
        raise bad(part.pointer, "the IDX header is cut short", _HINT)
    dims = struct.unpack(f">{n}I", raw)
    dtype = np.dtype(TYPES[code])
    expected = math.prod(dims) * dtype.itemsize
    if expected > limits.max_uncompressed_bytes:
        raise bad(
            part.pointer,
            f"the header promises {' x '.join(map(str, dims))} values ({expected:,} bytes), over "
            f"the limit of {limits.max_uncompressed_bytes:,}",
            "upload a smaller dataset",
        )
    data = stream.read(expected)
    extra = stream.read(1)
    if len(data) != expected or extra:
        got = f"{len(data):,}" if not extra else f"more than {expected:,}"
        raise bad(
            part.pointer,
            f"the header says {' x '.join(map(str, dims))} values ({expected:,} bytes of data) "
            f"but the file holds {got}",
            "the header's sizes do not match the data: " + _HINT,
        )
    return (
        np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)
    )
