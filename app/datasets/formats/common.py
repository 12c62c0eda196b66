"""What every format converts to, and the checks every converted dataset must pass.

Formats only read their files; the rules about what a trainable dataset is (equal lengths,
finite pixels, whole-number labels, two or more classes, enough examples per class) live
here once, so every format refuses the same mistakes with the same words.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal, Protocol

import numpy as np

from app.errors import FieldError, InvalidInput

MIN_PER_CLASS = 2  # one for the held-out test split, one to train on
MAX_SIDE = 512  # larger images make networks this service caps anyway; resize them first
MAX_LABEL = 2**31 - 1

FormatName = Literal["npz", "csv", "idx", "zip"]
FORMATS: tuple[FormatName, ...] = ("npz", "csv", "idx", "zip")
# label: one whole-number class label per example; multilabel: several 0/1 columns (yes/no
# answers, several may be yes); value: one float per example, for regression.
Target = Literal["label", "multilabel", "value"]
TARGETS: tuple[Target, ...] = ("label", "multilabel", "value")


@dataclass(frozen=True)
class Part:
    """One uploaded file: its form field, the name the client gave it, a seekable stream."""

    field: str
    filename: str
    stream: BinaryIO

    @property
    def pointer(self) -> str:
        return f"/{self.field}"


@dataclass(frozen=True)
class Limits:
    max_uncompressed_bytes: int
    max_files: int


class ImageReader(Protocol):
    """Decodes uploaded images. Predictions own the MNIST recipe (app.inference), which sits
    above datasets; the API hands it in, so training and prediction see the same pixels."""

    def digit(self, data: bytes, size: tuple[int, int], pointer: str) -> np.ndarray:
        """One photo or scan of a digit through the MNIST recipe: float32 in [0, 1]."""
        ...

    def gray(self, data: bytes, pointer: str) -> np.ndarray:
        """The image's own pixels as 2-D grayscale float32 in [0, 255]."""
        ...


@dataclass
class Options:
    """Format options sent as form fields; each format reads the ones it knows."""

    label_column: str | None = None
    label_columns: tuple[str, ...] | None = None  # CSV: several columns (multilabel)
    target: Target = "label"
    header: Literal["auto", "yes", "no"] = "auto"
    size: tuple[int, int] | None = None
    preprocess: Literal["mnist", "none"] = "mnist"
    given: dict[str, str] = field(default_factory=dict)  # as sent, recorded with the dataset
    images: ImageReader | None = None  # needed by the zip format only


@dataclass(frozen=True)
class Converted:
    """Pixels (N, H, W) as uint8 0-255 or float32 0-1; targets by ``target``: class labels
    int64 (N,), yes/no answers uint8 (N, K) named by ``label_names``, or values float32 (N,)."""

    x: np.ndarray
    y: np.ndarray
    target: Target = "label"
    label_names: tuple[str, ...] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.x.shape[1]), int(self.x.shape[2])

    @property
    def classes(self) -> list[int]:
        return [int(c) for c in np.unique(self.y)] if self.target == "label" else []

    def class_counts(self) -> dict[int, int]:
        if self.target != "label":
            return {}
        labels, counts = np.unique(self.y, return_counts=True)
        return {int(k): int(v) for k, v in zip(labels, counts, strict=True)}

    def counts(self) -> dict[str, int]:
        """Examples per class, or per yes/no column the examples answering yes."""
        if self.target == "multilabel" and self.label_names is not None:
            yes = self.y.sum(axis=0)
            return {n: int(c) for n, c in zip(self.label_names, yes, strict=True)}
        return {str(k): v for k, v in self.class_counts().items()}

    def sha256(self) -> str:
        return content_sha256(self.x, self.y)


def content_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """A digest of the arrays themselves (not of a file, whose zip timestamps vary)."""
    digest = hashlib.sha256()
    for arr in (x, y):
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        digest.update(arr.data.cast("B"))
    return digest.hexdigest()


def bad(pointer: str, message: str, hint: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(
        detail or f"The dataset cannot be used: {message}.", [FieldError(pointer, message, hint)]
    )


def parse_size(text: str, pointer: str = "/size") -> tuple[int, int]:
    """``28`` or ``28x28`` (height x width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or not all(2 <= d <= MAX_SIDE for d in dims):
        raise bad(
            pointer,
            f"{text!r} is not an image size",
            f"use HEIGHTxWIDTH, e.g. 28x28, each side 2-{MAX_SIDE}",
        )
    return dims[0], dims[1]


def images_from(
    x: np.ndarray, pointer: str, size: tuple[int, int] | None, size_pointer: str = "/size"
) -> np.ndarray:
    """(N, H, W), (N, H, W, 1) or flat (N, H*W) pixels as (N, H, W)."""
    if x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if size is None and side * side != x.shape[1]:
            raise bad(
                pointer,
                f"each example has {x.shape[1]} pixels, which is not a square image",
                "send the image size as the form field size=HEIGHTxWIDTH",
            )
        h, w = size or (side, side)
        if h * w != x.shape[1]:
            raise bad(
                size_pointer,
                f"size {h}x{w} is {h * w} pixels but each example has {x.shape[1]}",
                "declare the size the rows were flattened from",
            )
        x = x.reshape(len(x), h, w)
    if x.ndim != 3:
        raise bad(
            pointer,
            f"the images have shape {list(x.shape)}",
            "send (N, H, W) grayscale images, (N, H, W, 1), or flat (N, H*W) rows",
        )
    if size is not None and x.shape[1:] != size:
        raise bad(
            size_pointer,
            f"the images are {x.shape[1]}x{x.shape[2]}, not the declared {size[0]}x{size[1]}",
            "drop the size field, or declare the images' own size",
        )
    if not all(2 <= d <= MAX_SIDE for d in x.shape[1:]):
        raise bad(
            pointer,
            f"the images are {x.shape[1]}x{x.shape[2]} pixels",
            f"use images with sides between 2 and {MAX_SIDE} pixels",
        )
    return x


def pixels(x: np.ndarray, pointer: str) -> np.ndarray:
    """uint8 when the pixels are whole numbers 0-255, else float32 scaled into [0, 1]."""
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "iufb":
        raise bad(pointer, f"the pixels are {x.dtype} values", "send numbers: 0-255 or 0-1")
    if x.dtype.kind == "f":
        finite = np.isfinite(x)
        if not finite.all():
            where = np.argwhere(~finite)[0]
            raise bad(
                pointer,
                f"{int((~finite).sum()):,} pixels are NaN or infinite (first in example "
                f"{int(where[0])})",
                "replace missing values, e.g. with 0, before uploading",
            )
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if low < 0:
        raise bad(
            pointer,
            f"pixels go down to {low:g}",
            "send raw pixel values (0-255 or 0-1), not standardised ones",
        )
    if x.dtype.kind in "iub" and high <= 255:
        return x.astype(np.uint8)
    if x.dtype.kind == "f" and high <= 255 and np.array_equal(x, np.round(x)) and high > 1:
        return x.astype(np.uint8)
    scale = 1.0 if high <= 1 else (255.0 if high <= 255 else high)
    return (x / scale).astype(np.float32)


def labels(y: np.ndarray, pointer: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise bad(
            pointer,
            f"the labels have shape {list(y.shape)}",
            "send one whole-number class label per example: shape (N,)",
        )
    if y.dtype.kind not in "iufb":
        raise bad(pointer, f"the labels are {y.dtype} values", "send whole-number class labels")
    if y.dtype.kind == "f":
        finite = np.isfinite(y)
        if not finite.all():
            raise bad(
                pointer,
                f"{int((~finite).sum())} labels are NaN or infinite "
                f"(first at example {int(np.argmin(finite))})",
                "give every example a class label",
            )
        fraction = y != np.round(y)
        if fraction.any():
            i = int(np.argmax(fraction))
            raise bad(
                pointer,
                f"label {float(y[i]):g} of example {i} is not a whole number, but classification "
                "needs class labels",
                "use whole-number labels such as 0-9 (float targets are not supported)",
            )
    if y.size and (float(y.min()) < 0 or float(y.max()) > MAX_LABEL):
        raise bad(pointer, "labels are negative or too large", f"use labels from 0 to {MAX_LABEL}")
    return y.astype(np.int64)


def finish(
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_pointer: str,
    y_pointer: str,
    size: tuple[int, int] | None = None,
) -> Converted:
    """Every check a trainable dataset must pass, in the order a user would fix them."""
    if len(x) != len(y):
        raise bad(
            y_pointer,
            f"there are {len(x):,} images but {len(y):,} labels",
            "send exactly one label per image",
        )
    if len(x) == 0:
        raise bad(x_pointer, "the dataset has no examples", "upload at least a few per class")
    images = pixels(images_from(x, x_pointer, size), x_pointer)
    return check_classes(Converted(images, labels(y, y_pointer)), y_pointer)


def check_classes(data: Converted, pointer: str) -> Converted:
    counts = data.class_counts()
    if len(counts) < 2:
        raise bad(
            pointer,
            f"every example has the label {next(iter(counts))}: a classifier needs at least two "
            "classes",
            "upload examples of two or more classes",
        )
    few = {k: v for k, v in counts.items() if v < MIN_PER_CLASS}
    if few:
        listed = ", ".join(f"{k} ({v})" for k, v in list(few.items())[:10])
        raise bad(
            pointer,
            f"classes with fewer than {MIN_PER_CLASS} examples: {listed}",
            "add examples of these classes (each needs one to test and one to train), "
            "or remove them",
        )
    return data


def describe(options: Options, **used: Any) -> dict[str, Any]:
    return {**options.given, **{k: v for k, v in used.items() if v is not None}}
