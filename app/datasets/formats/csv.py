"""CSV in the Kaggle digit-recognizer layout: a ``label`` column and ``pixel0..pixelN``.

Other label columns are named by ``label_column`` (one) or ``label_columns`` (several, for a
multi-label dataset of 0/1 columns); ``target=value`` reads the label column as floats.

Read in chunks of rows into a preallocated uint8 array (widened to float32 only if a value
needs it), so a large file costs about its final array in memory, not its text or float64.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator

import numpy as np

from app.datasets.formats.common import Converted, Limits, Options, Part, bad
from app.datasets.formats.targets import finish_targets

CHUNK_ROWS = 500  # ~3 MB of float64 per chunk: the transient cost stays small beside the array


def convert(part: Part, options: Options, limits: Limits) -> Converted:
    text = io.TextIOWrapper(part.stream, encoding="utf-8", errors="strict", newline="")
    try:
        return _convert(part, text, options, limits)
    except UnicodeDecodeError as exc:
        raise bad(
            part.pointer, f"the file is not UTF-8 text ({exc.reason})", "save the CSV as UTF-8"
        ) from exc
    finally:
        text.detach()  # the stream belongs to the upload, which closes it


def _convert(part: Part, text: io.TextIOWrapper, options: Options, limits: Limits) -> Converted:
    lines_in_file = _count_rows(part)
    part.stream.seek(0)
    first = text.readline().strip()
    if not first:
        raise bad(part.pointer, "the CSV file is empty", "upload a label column and pixel columns")
    fields = [f.strip().strip('"') for f in first.split(",")]
    header = options.header == "yes" or (options.header == "auto" and not _numeric(fields))
    label_at = _label_indexes(part, fields if header else None, options, len(fields))
    if len(fields) - len(label_at) < 2:
        raise bad(
            part.pointer,
            f"the CSV has {len(fields)} columns",
            "send the label column(s) and the pixel columns",
        )
    width = len(fields)
    first_line = 2 if header else 1
    if not header:
        text.seek(0)
    rows = lines_in_file - (1 if header else 0)
    if rows * (width - len(label_at)) > limits.max_uncompressed_bytes:
        raise bad(
            part.pointer,
            f"{rows:,} rows of {width - len(label_at)} pixels is over the limit",
            "upload fewer rows",
        )
    x = np.empty((max(rows, 0), width - len(label_at)), dtype=np.uint8)
    y = np.empty((max(rows, 0), len(label_at)), dtype=np.float64)
    n = 0
    for line_no, lines in _chunks(text, first_line):
        values = _parse(part, lines, line_no, width)
        if values.shape[0] == 0:
            continue
        k = values.shape[0]
        y[n : n + k] = values[:, label_at]
        px = np.delete(values, label_at, axis=1)
        if x.dtype == np.uint8 and not _fits_uint8(px):
            x = x.astype(np.float32)
        x[n : n + k] = px
        n += k
    names = tuple(fields[i] if header else f"column{i}" for i in label_at)
    return finish_targets(
        x[:n],
        y[:n],
        options.target,
        names,
        x_pointer=part.pointer,
        y_pointers=[f"{part.pointer}/columns/{i}" for i in label_at],
        size=options.size,
    )


def _numeric(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def _label_indexes(part: Part, header: list[str] | None, options: Options, width: int) -> list[int]:
    """0-based indexes of the label columns, in the order the user listed them."""
    if options.label_columns:
        field, wanted = "/label_columns", list(options.label_columns)
    else:
        field, wanted = "/label_column", [options.label_column or ""]
    indexes = [_label_index(part, header, w or None, width, field) for w in wanted]
    if len(set(indexes)) != len(indexes):
        raise bad(field, "a column is listed twice", "list each label column once")
    return indexes


def _label_index(
    part: Part, header: list[str] | None, wanted: str | None, width: int, field: str
) -> int:
    if header is not None:
        name = wanted or "label"
        if name in header:
            return header.index(name)
        if wanted is None or not wanted.isdigit():
            raise bad(
                f"{part.pointer}/columns",
                f"there is no column named {name!r} (columns: {', '.join(header[:5])}...)",
                f"name the label column 'label', or send the form field {field[1:]}=NAME",
            )
    index = int(wanted) if wanted and wanted.isdigit() else 0
    if wanted and not wanted.isdigit() and header is None:
        raise bad(
            field,
            f"the CSV has no header, so there is no column named {wanted!r}",
            "give the label column's 0-based index, e.g. label_column=0",
        )
    if index >= width:
        raise bad(field, f"column {index} does not exist ({width} columns)", f"use 0-{width - 1}")
    return index


def _count_rows(part: Part) -> int:
    """Lines in the file (an upper bound on rows: blank lines count too), without decoding."""
    part.stream.seek(0)
    count, last = 0, b"\n"
    while chunk := part.stream.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _chunks(text: io.TextIOWrapper, first_line: int) -> Iterator[tuple[int, list[str]]]:
    line_no = first_line
    while lines := list(itertools.islice(text, CHUNK_ROWS)):
        yield line_no, lines
        line_no += len(lines)


def _parse(part: Part, lines: list[str], line_no: int, width: int) -> np.ndarray:
    kept = [line for line in lines if line.strip()]
    if not kept:
        return np.empty((0, width))
    try:
        values = np.loadtxt(kept, delimiter=",", dtype=np.float64, ndmin=2, quotechar='"')
    except ValueError:
        raise _first_bad_line(part, lines, line_no, width) from None
    if values.shape[1] != width:
        raise _first_bad_line(part, lines, line_no, width)
    return values


def _first_bad_line(part: Part, lines: list[str], line_no: int, width: int) -> Exception:
    """Only on the error path: find the line and column NumPy refused, in plain Python."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        cells = line.rstrip("\r\n").split(",")
        pointer = f"{part.pointer}/lines/{line_no + i}"
        if len(cells) != width:
            return bad(
                pointer,
                f"line {line_no + i} has {len(cells)} values, the first row has {width}",
                "give every row the label and the same number of pixels (no ragged rows)",
            )
        for j, cell in enumerate(cells):
            try:
                float(cell.strip().strip('"'))
            except ValueError:
                shown = cell.strip() or "an empty value"
                return bad(
                    pointer,
                    f"line {line_no + i}, column {j} holds {shown!r}, not a number",
                    "use numbers only; fill missing pixels with 0",
                )
    return bad(
        part.pointer, f"lines {line_no}-{line_no + len(lines) - 1} cannot be read", "check the CSV"
    )


def _fits_uint8(px: np.ndarray) -> bool:
    return bool(
        np.isfinite(px).all() and px.min() >= 0 and px.max() <= 255 and (px == np.round(px)).all()
    )
