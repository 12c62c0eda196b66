"""Request items (JSON instances, uploaded files) → a (N, H, W) float32 batch in [0, 1].

Every bad item is reported, all at once, under its own pointer (``/instances/3``,
``/files/0``) with a hint; the images themselves go through app.inference.decoding.image.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from app.errors import FieldError, InvalidInput
from app.inference.decoding.image import (
    WORKING_SIDE,
    decode_image,
    image_as_model_pixels,
    preprocess_digit,
    to_unit_range,
)

Shape = tuple[int, int]
T = TypeVar("T")


def parse_instances(
    instances: Any, shape: Shape, preprocess: bool, max_instances: int
) -> np.ndarray:
    """JSON ``instances`` as a (N, H, W) float32 batch in [0, 1]; reports every bad instance."""
    if not isinstance(instances, list):
        raise InvalidInput(
            "instances must be a list.",
            [
                FieldError(
                    "/instances", f"got {type(instances).__name__}", 'send {"instances": [...]}'
                )
            ],
        )
    _check_count(len(instances), max_instances, "/instances", "instances")
    return _batch(
        instances, lambda item, at: _parse_instance(item, shape, preprocess, at), "instances"
    )


def images_to_batch(
    files: list[bytes], shape: Shape, preprocess: bool, max_files: int | None = None
) -> np.ndarray:
    """Uploaded PNG/JPEG files as a (N, H, W) float32 batch, in upload order."""
    _check_count(len(files), max_files, "/files", "files")
    return _batch(files, lambda data, at: _image_instance(data, shape, preprocess, at), "files")


def _check_count(count: int, limit: int | None, pointer: str, what: str) -> None:
    if count == 0:
        raise InvalidInput(
            f"No {what} to predict.",
            [FieldError(pointer, f"{what} is empty", f"send at least one of the {what}")],
        )
    if limit is not None and count > limit:
        raise InvalidInput(
            f"Too many {what}: {count}, at most {limit} per request.",
            [
                FieldError(
                    pointer,
                    f"{count} {what}; the limit is {limit}",
                    f"split them into requests of at most {limit}",
                )
            ],
        )


def _batch(items: Sequence[T], parse: Callable[[T, str], np.ndarray], what: str) -> np.ndarray:
    """Parses every item so that one answer reports all bad ones, each under /<what>/<index>."""
    arrays: list[np.ndarray] = []
    problems: list[InvalidInput] = []
    for index, item in enumerate(items):
        try:
            arrays.append(parse(item, f"/{what}/{index}"))
        except InvalidInput as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        status = 400 if all(p.status == 400 for p in problems) else 422
        raise InvalidInput(
            f"{len(problems)} of {len(items)} {what} are invalid; see errors.",
            [e for p in problems for e in p.errors],
            status=status,
        )
    if len(arrays) == 1:  # most requests: a view, not np.stack's copy (~3 µs)
        return arrays[0][np.newaxis].astype(np.float32, copy=False)
    return np.stack(arrays).astype(np.float32, copy=False)


def _parse_instance(item: Any, shape: Shape, preprocess: bool, pointer: str) -> np.ndarray:
    if isinstance(item, dict):
        return _image_instance(_b64_bytes(item, pointer), shape, preprocess, pointer)
    if isinstance(item, list):
        return _pixel_instance(item, shape, pointer)
    raise InvalidInput(
        "An instance has the wrong type.",
        [FieldError(pointer, f"got {type(item).__name__}", _expected_forms(shape))],
    )


def _b64_bytes(item: dict[str, Any], pointer: str) -> bytes:
    text = item.get("b64")
    if set(item) != {"b64"} or not isinstance(text, str):
        raise InvalidInput(
            'An image instance must be {"b64": "..."}.',
            [
                FieldError(
                    pointer,
                    f"got an object with keys {sorted(item)}",
                    'send {"b64": "<base64 of a PNG or JPEG file>"} and nothing else',
                )
            ],
        )
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]  # tolerate data URLs copied from a browser
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            "An image is not valid base64.",
            [
                FieldError(
                    f"{pointer}/b64",
                    f"not valid base64 ({exc})",
                    "encode the file bytes with standard base64 (RFC 4648)",
                )
            ],
            status=400,
        ) from exc


def _image_instance(data: bytes, shape: Shape, preprocess: bool, pointer: str) -> np.ndarray:
    if preprocess:
        gray = decode_image(data, pointer, max_side=WORKING_SIDE)
        return preprocess_digit(gray, shape, pointer=pointer)
    return image_as_model_pixels(data, shape, pointer)


def _pixel_instance(item: list[Any], shape: Shape, pointer: str) -> np.ndarray:
    try:
        pixels = np.asarray(item)
    except ValueError as exc:  # ragged nesting
        raise _bad_shape(pointer, shape, "rows of different lengths") from exc
    if pixels.dtype.kind not in "iuf":
        raise InvalidInput(
            "An instance has pixels that are not numbers.",
            [
                FieldError(
                    pointer, f"found {_kind_name(pixels)} values", "send numbers only: 0-255 or 0-1"
                )
            ],
        )
    flat = pixels.ndim == 1
    pixels = _to_model_shape(pixels, shape, pointer).astype(np.float64)
    _check_pixel_values(pixels, pointer, flat=flat)
    return to_unit_range(pixels[np.newaxis])[0]


def _to_model_shape(pixels: np.ndarray, shape: Shape, pointer: str) -> np.ndarray:
    height, width = shape
    if pixels.shape in ((height, width), (height, width, 1)):
        return pixels.reshape(shape)
    if pixels.shape == (height * width,):
        return pixels.reshape(shape)
    got = f"{pixels.size} flat pixels" if pixels.ndim == 1 else "x".join(map(str, pixels.shape))
    raise _bad_shape(pointer, shape, got)


def _check_pixel_values(pixels: np.ndarray, pointer: str, flat: bool) -> None:
    checks = (
        (~np.isfinite(pixels), "is NaN or infinite"),
        (pixels < 0, "is negative"),
        (pixels > 255, "is above 255"),
    )
    for bad, message in checks:
        if bad.any():
            row, col = np.argwhere(bad)[0]
            at = f"{pointer}/{row * pixels.shape[1] + col}" if flat else f"{pointer}/{row}/{col}"
            raise InvalidInput(
                "An instance has an out-of-range pixel.",
                [
                    FieldError(
                        at,
                        f"pixel value {pixels[row, col]} {message}",
                        "use 0-255 integers or 0-1 floats",
                    )
                ],
            )


def _bad_shape(pointer: str, shape: Shape, got: str) -> InvalidInput:
    return InvalidInput(
        "An instance has the wrong shape.",
        [
            FieldError(
                pointer,
                f"expected {shape[0]}x{shape[1]} nested list or {shape[0] * shape[1]} flat "
                f"pixels, got {got}",
                _expected_forms(shape),
            )
        ],
    )


def _expected_forms(shape: Shape) -> str:
    return (
        f"send a {shape[0]}x{shape[1]} nested list of pixels, a flat list of "
        f'{shape[0] * shape[1]} pixels, or {{"b64": "<base64 PNG/JPEG>"}}'
    )


def _kind_name(pixels: np.ndarray) -> str:
    return {"b": "true/false", "U": "text", "S": "text"}.get(pixels.dtype.kind, "non-numeric")
