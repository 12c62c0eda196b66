"""Targets other than class labels, read from CSV label columns: several yes/no columns (a
multi-label dataset) or one column of float values (regression).

Class labels keep their rules in ``common``; these have their own (0/1 only; finite values)
and no classes, so nothing here counts examples per class or stratifies.
"""

from __future__ import annotations

import numpy as np

from app.datasets.formats.common import (
    Converted,
    Options,
    Target,
    bad,
    finish,
    images_from,
    pixels,
)

MIN_EXAMPLES = 2  # one for the held-out test split, one to train on


def check_options(fmt: str, options: Options) -> None:
    """Refuse option combinations that cannot mean anything, before reading the file."""
    columns = options.label_columns
    if fmt != "csv" and (options.target != "label" or columns):
        field = "/target" if options.target != "label" else "/label_columns"
        raise bad(
            field,
            f"{field[1:]} is a CSV option, but this upload is {fmt}",
            "upload a CSV with label columns, or drop the field (npz, IDX and zip uploads "
            "hold class labels)",
        )
    if columns is not None and options.label_column is not None:
        raise bad(
            "/label_columns",
            "both label_column and label_columns were sent",
            "send label_columns alone (label_column is the one-column form)",
        )
    if columns is not None and len(set(columns)) != len(columns):
        raise bad("/label_columns", "a column is listed twice", "list each label column once")
    n = len(columns) if columns else 1
    if options.target == "multilabel" and n < 2:
        raise bad(
            "/label_columns",
            "a multi-label dataset needs two or more yes/no label columns",
            "list them, e.g. label_columns=even,at_least_5 (for one yes/no column use "
            "target=label)",
        )
    if options.target != "multilabel" and n > 1:
        raise bad(
            "/label_columns",
            f"{n} label columns were listed, but target={options.target} reads one",
            "add target=multilabel for several 0/1 columns, or list one column",
        )


def finish_targets(
    x: np.ndarray,
    y: np.ndarray,
    target: Target,
    names: tuple[str, ...],
    *,
    x_pointer: str,
    y_pointers: list[str],
    size: tuple[int, int] | None,
) -> Converted:
    """``y`` is (N, K) float64 as read: the label columns in the order the user listed them."""
    if target == "label":
        return finish(x, y[:, 0], x_pointer=x_pointer, y_pointer=y_pointers[0], size=size)
    if len(x) < MIN_EXAMPLES:
        raise bad(
            x_pointer,
            f"the dataset has {len(x)} examples",
            f"upload at least {MIN_EXAMPLES} (one to test, one to train)",
        )
    images = pixels(images_from(x, x_pointer, size), x_pointer)
    if target == "value":
        return Converted(images, _values(y[:, 0], y_pointers[0], names[0]), "value")
    return Converted(images, _yes_no(y, names, y_pointers), "multilabel", names)


def _values(y: np.ndarray, pointer: str, name: str) -> np.ndarray:
    values = y.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.argmin(finite))
        raise bad(
            pointer,
            f"column {name!r} of example {i} is {float(y[i]):g}; "
            f"{int((~finite).sum())} target values are NaN, infinite or beyond float32",
            "give every example a finite number as its target",
        )
    return values


def _yes_no(y: np.ndarray, names: tuple[str, ...], pointers: list[str]) -> np.ndarray:
    wrong = ~((y == 0) | (y == 1))
    if wrong.any():
        i, j = (int(v) for v in np.argwhere(wrong)[0])
        raise bad(
            pointers[j],
            f"column {names[j]!r} holds {float(y[i, j]):g} at example {i}; multi-label "
            "columns hold 0 or 1",
            "write 1 for yes and 0 for no in every label column (or use target=label for one "
            "column of class labels)",
        )
    return y.astype(np.uint8)
