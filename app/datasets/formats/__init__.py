"""Upload formats: each module reads one kind of file into the same ``Converted`` arrays.

The format is detected from the content (a declared ``format`` field wins, and its reader
then explains what does not fit); this module only decides which reader runs.
"""

from __future__ import annotations

import zipfile

from app.datasets.formats import idx
from app.datasets.formats.common import (
    FORMATS,
    TARGETS,
    Converted,
    FormatName,
    Limits,
    Options,
    Part,
    Target,
    bad,
)

__all__ = [
    "FORMATS",
    "TARGETS",
    "Converted",
    "FormatName",
    "Limits",
    "Options",
    "Part",
    "Target",
    "convert",
    "detect",
]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_FORMAT_HINT = (
    "upload an .npz with x and y, a CSV with a label column, a zip of class folders, "
    "or the parts images + labels for an IDX pair"
)


def convert(
    parts: dict[str, Part], declared: FormatName | None, options: Options, limits: Limits
) -> tuple[FormatName, Converted]:
    # The readers are imported on the first upload: the API process starts without them (and
    # without Pillow, which the zip reader needs) as most never see one (bench/README.md).
    from app.datasets.formats import csv, npz, targets, zipfolders

    fmt = declared or detect(parts)
    _check_parts(parts, fmt)
    targets.check_options(fmt, options)
    if fmt == "idx":
        return fmt, idx.convert(parts["images"], parts["labels"], options, limits)
    part = parts["file"]
    if fmt == "npz":
        return fmt, npz.convert(part, options, limits)
    if fmt == "csv":
        return fmt, csv.convert(part, options, limits)
    return fmt, zipfolders.convert(part, options, limits)


def _check_parts(parts: dict[str, Part], fmt: FormatName) -> None:
    if fmt == "idx":
        for name in ("images", "labels"):
            if name not in parts:
                raise bad(
                    f"/{name}",
                    f"an IDX dataset needs the part {name!r}",
                    "send two file parts: images (idx3-ubyte) and labels (idx1-ubyte)",
                )
        if "file" in parts:
            raise bad("/file", "both a file and an IDX pair were sent", "send one or the other")
    elif "file" not in parts:
        raise bad("/file", "no file was sent", "send the dataset as the multipart part 'file'")
    elif "images" in parts or "labels" in parts:
        raise bad(
            "/images",
            f"images/labels parts are for IDX, but the {fmt} file came too",
            "send one file, or an IDX pair alone",
        )


def detect(parts: dict[str, Part]) -> FormatName:
    if "images" in parts or "labels" in parts:
        return "idx"
    if "file" not in parts:
        raise bad("/file", "no file was sent", "send the dataset as the multipart part 'file'")
    part = parts["file"]
    part.stream.seek(0)
    head = part.stream.read(64 * 1024)
    part.stream.seek(0)
    if not head:
        raise bad(part.pointer, "the file is empty (0 bytes)", _FORMAT_HINT)
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(part)
    if head.startswith(idx.GZIP_MAGIC) or idx.looks_like_idx(head):
        raise bad(
            "/labels",
            "this looks like one IDX file; IDX comes as a pair",
            "send the images file as part 'images' and the labels file as part 'labels'",
        )
    if _looks_like_csv(head):
        return "csv"
    raise bad(
        part.pointer,
        f"the format of {part.filename or 'the file'!r} is not one this service reads",
        _FORMAT_HINT,
        detail="The upload's format is unknown.",
    )


def _zip_kind(part: Part) -> FormatName:
    try:
        with zipfile.ZipFile(part.stream) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        raise bad(part.pointer, f"the zip archive is damaged ({exc})", "create it again") from exc
    finally:
        part.stream.seek(0)
    arrays = [n for n in names if n.endswith(".npy")]
    if arrays and len(arrays) != len(names):
        raise bad(
            part.pointer,
            f"the zip mixes NumPy arrays ({arrays[0]}) with other files",
            "upload an .npz (np.savez) or a zip of image folders, not both in one",
            detail="The upload mixes formats.",
        )
    return "npz" if arrays else "zip"


def _looks_like_csv(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return False
        text = head[: exc.start].decode("utf-8")
    return "," in text and "\x00" not in text
