"""A PNG grid of a few examples per class, to see at a glance that a dataset is what you meant."""

from __future__ import annotations

import io
import math

import numpy as np

PER_CLASS = 8
MAX_CLASSES = 20
MIN_CELL = 28  # small images (8x8 digits) are enlarged to stay visible
MAX_CELL = 64
GAP = 2
LABEL_WIDTH = 40


def grid_png(
    x: np.ndarray,
    y: np.ndarray,
    per_class: int = PER_CLASS,
    label_names: tuple[str, ...] | None = None,
) -> bytes:
    """Rows of classes (at most MAX_CLASSES), each with its first ``per_class`` examples; for
    yes/no columns a row per column of examples answering yes, for values rows from the
    smallest values to the largest (each row labelled with its first value)."""
    # Imported here: the API process starts without Pillow's drawing (most never draw).
    from PIL import Image, ImageDraw

    rows = _rows(y, label_names)[:MAX_CLASSES]
    h, w = int(x.shape[1]), int(x.shape[2])
    scale = max(1, math.ceil(MIN_CELL / max(h, w))) if max(h, w) < MIN_CELL else 1
    fit = min(1.0, MAX_CELL / max(h * scale, w * scale))
    cell_h, cell_w = max(1, round(h * scale * fit)), max(1, round(w * scale * fit))
    label_width = max(LABEL_WIDTH, 8 + 6 * max((len(t) for t, _ in rows), default=0))
    width = label_width + per_class * (cell_w + GAP) + GAP
    height = len(rows) * (cell_h + GAP) + GAP
    canvas = Image.new("L", (width, height), 96)
    draw = ImageDraw.Draw(canvas)
    for row, (text, members) in enumerate(rows):
        top = GAP + row * (cell_h + GAP)
        draw.text((4, top + cell_h // 2 - 5), text, fill=255)
        for col, i in enumerate(members[:per_class]):
            tile = Image.fromarray(_as_uint8(x[i])).resize(
                (cell_w, cell_h), Image.Resampling.NEAREST
            )
            canvas.paste(tile, (label_width + GAP + col * (cell_w + GAP), top))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _rows(y: np.ndarray, label_names: tuple[str, ...] | None) -> list[tuple[str, np.ndarray]]:
    if y.ndim == 2:
        names = label_names or tuple(str(j) for j in range(y.shape[1]))
        return [(names[j], np.flatnonzero(y[:, j] == 1)) for j in range(y.shape[1])]
    if y.dtype.kind == "f":
        order = np.argsort(y, kind="stable")
        return [(f"{float(y[c[0]]):.3g}", c) for c in np.array_split(order, 5) if len(c)]
    return [(str(int(c)), np.flatnonzero(y == c)) for c in np.unique(y)]


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    peak = float(image.max()) if image.size else 1.0
    scale = 255.0 / peak if peak > 1.0 else 255.0
    scaled: np.ndarray = np.clip(np.asarray(image, dtype=np.float32) * scale, 0, 255)
    return scaled.astype(np.uint8)
