"""A short cut for the commonest multipart upload: a few well-formed parts, the body in memory.

``request.form()`` + read + close spends ~73 µs on a 482-byte one-PNG body (same process,
alternated; other runs on this host saw ~127): python-multipart's callback-per-event state
machine, then a SpooledTemporaryFile and an UploadFile per file, written and read back.
``request.body()`` and this module take ~10 µs (this module alone ~5): the body is split on its
delimiter and each part's few header lines read. This module accepts only what curl,
httpx and browsers send (a token boundary, CRLF lines, parts with a Content-Disposition
``form-data; name="..."[; filename="..."]`` and an optional Content-Type, a closing delimiter
ending the body) and only where python-multipart, as Starlette drives it, would read exactly
the same parts. Anything else gives None and the caller parses with ``request.form()`` as
before, so every refusal and its message stay Starlette's.
"""

from __future__ import annotations

import re

# Starlette's request.form() refuses a text part over 1 MiB (its max_part_size default).
TEXT_PART_LIMIT = 1024 * 1024
# python-multipart refuses a header line over 4096 + 128 bytes and a boundary over 256;
# ours are far inside both, so neither refusal can be skipped here.
HEADER_LINE_LIMIT = 1024
# RFC 2046 bchars without the space (python-multipart and Starlette would strip a trailing
# one); quoted or not, as parse_options_header reads both. No charset parameter: names would
# then be decoded with it.
_CONTENT_TYPE = re.compile(
    rb'multipart/form-data; ?boundary=("?)([0-9A-Za-z\'()+_,\-./:=?]{1,70})\1', re.IGNORECASE
)
# No quote, backslash or semicolon inside the values: parse_options_header would unescape
# or re-split them. No RFC 2231 ``name*``/``filename*`` (it ignores those; we do not guess).
_DISPOSITION = re.compile(rb'form-data; ?name="([^"\\;\r\n]*)"(; ?filename="[^"\\;\r\n]*")?')
_HEADER_NAMES = (b"content-disposition", b"content-type")


def uploaded_files(content_type: str, body: bytes, limit: int) -> list[bytes] | None:
    """The contents of the parts named ``file``, in order, exactly as ``request.form(max_files=
    limit + 1, max_fields=limit + 1).getlist("file")`` would read them, when every such part
    is a file and there is at least one; None when this module is not sure."""
    boundary = _boundary(content_type)
    parts = None if boundary is None else _parts(body, boundary, limit + 1)
    if parts is None:
        return None
    files: list[bytes] = []
    for headers, data in parts:
        described = _describe(headers)
        if described is None:
            return None
        name, is_file = described
        if not is_file and len(data) >= TEXT_PART_LIMIT:
            return None  # Starlette refuses it
        if name == b"file":
            if not is_file:
                return None  # "A 'file' part is not a file": the caller says which
            files.append(data)
    return files or None  # none at all: the caller lists the parts there are


def _boundary(content_type: str) -> bytes | None:
    match = _CONTENT_TYPE.fullmatch(content_type.encode("latin-1", "replace"))
    return None if match is None else match.group(2)


def _parts(body: bytes, boundary: bytes, most: int) -> list[tuple[bytes, bytes]] | None:
    """(header block, data) of each part, if the body is exactly the first delimiter, parts
    separated by CRLF-ended delimiters and a closing one (then nothing, or one CRLF).

    As python-multipart does, a part's headers end at its first empty line and its data at
    the first CRLF + delimiter after that. After the delimiter it reads CRLF as the next part,
    ``--`` as the end, spaces or tabs as padding and anything else as more data; only the
    first two are taken here."""
    first = b"--" + boundary + b"\r\n"
    if not body.startswith(first):
        return None  # preamble, leading CRLFs, an empty form: python-multipart's own rules
    delimiter = b"\r\n--" + boundary
    parts: list[tuple[bytes, bytes]] = []
    pos = len(first)
    while len(parts) < most:
        head_end = body.find(b"\r\n\r\n", pos)
        stop = -1 if head_end < 0 else body.find(delimiter, head_end + 4)
        if stop < 0 or body.startswith(b"\r\n", pos):
            return None  # truncated, or a part without headers
        parts.append((body[pos:head_end], body[head_end + 4 : stop]))
        after = stop + len(delimiter)
        if body.startswith(b"\r\n", after):
            pos = after + 2
        elif body.startswith(b"--", after):
            return parts if after + 2 == len(body) or body[after + 2 :] == b"\r\n" else None
        else:
            return None
    return None  # over the limit: Starlette says "Too many files/fields"


def _describe(headers: bytes) -> tuple[bytes, bool] | None:
    """(name, is a file) from a part's header block: one Content-Disposition and at most one
    Content-Type, each line ``Name: value`` with no CR, LF or over-long line."""
    disposition = None
    seen: set[bytes] = set()
    for line in headers.split(b"\r\n"):
        field, colon, value = line.partition(b":")
        field = field.lower()
        if (
            not colon
            or field not in _HEADER_NAMES
            or field in seen
            or len(line) > HEADER_LINE_LIMIT
            or b"\r" in line
            or b"\n" in line
        ):
            return None
        seen.add(field)
        if field == b"content-disposition":
            # python-multipart skips the spaces after the colon, not tabs.
            disposition = _DISPOSITION.fullmatch(value.lstrip(b" "))
            if disposition is None:
                return None
    if disposition is None:
        return None
    return disposition.group(1), disposition.group(2) is not None
