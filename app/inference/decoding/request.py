"""Prediction request bodies → a (N, H, W) batch. Runs in a worker thread: decoding images
and parsing large JSON arrays are CPU work that must stay off the event loop."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from app.errors import FieldError, InvalidInput
from app.inference.decoding.image import to_unit_range
from app.inference.decoding.instance import images_to_batch, parse_instances

Shape = tuple[int, int]


def batch_from_json(body: bytes, shape: Shape, preprocess: bool, limit: int) -> np.ndarray:
    if not body.strip():
        raise InvalidInput(
            "The request body is empty.",
            [FieldError("", "no JSON body", 'send {"instances": [...]} or multipart "file" parts')],
        )
    try:
        payload: Any = loads(body)
    except ValueError as exc:
        raise InvalidInput(
            "The body is not valid JSON.",
            [FieldError("", str(exc), 'send {"instances": [...]} as application/json')],
        ) from None
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput(
            "The JSON body needs an instances list.",
            [FieldError("/instances", "missing", 'send {"instances": [[...28x28 pixels...]]}')],
        )
    extra = sorted(set(payload) - {"instances"})
    if extra:
        raise InvalidInput(
            "Unknown fields in the body.",
            [
                FieldError(f"/{key}", "not part of a prediction request", "remove it")
                for key in extra
            ],
        )
    fast = _uniform_pixel_batch(payload["instances"], shape, limit) if is_pixel_json(body) else None
    return (
        fast
        if fast is not None
        else parse_instances(payload["instances"], shape, preprocess, limit)
    )


def loads(body: bytes | str) -> Any:
    """A request's JSON; every way it can fail is a ValueError (the caller names the part)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # Python's json.dumps writes NaN and Infinity, which strict parsers refuse; the
        # standard library reads them, so such a pixel is reported by position, not as
        # "invalid JSON".
        return json.loads(body)
    except RecursionError:
        raise ValueError("arrays or objects are nested too deeply") from None


# What a body of pixel arrays is made of, besides its one key.
_NUMERIC = b"0123456789.,[]eE+- \t\r\n"
_PIXELS_ONLY = b'{"instances":}'.translate(None, _NUMERIC)


def is_pixel_json(body: bytes) -> bool:
    """Whether the body is ``{"instances": ...}`` holding nothing but numbers in arrays: no
    other string (a base64 image), escape, ``true``, ``null`` or ``NaN``. One pass in C over
    the bytes (~4 µs for a 28x28 image, against ~15 µs for searching out what it excludes)."""
    return body.translate(None, _NUMERIC) == _PIXELS_ONLY


def _uniform_pixel_batch(instances: Any, shape: Shape, limit: int) -> np.ndarray | None:
    """The common case, a rectangular batch of valid pixel arrays in a body that
    ``is_pixel_json``, checked in one vectorised pass; anything else (images, mistakes) takes
    the per-instance path that names the culprit."""
    if not (
        isinstance(instances, list)
        and 0 < len(instances) <= limit
        and isinstance(instances[0], list)
    ):
        return None
    try:
        # Numbers only, so the type need not be discovered (a third of the conversion).
        pixels = np.asarray(instances, dtype=np.float64)
    except ValueError:  # ragged
        return None
    h, w = shape
    if pixels.shape[1:] not in ((h, w), (h * w,), (h, w, 1)):
        return None  # the wrong shape: let the slow path say which
    low, high = pixels.min(), pixels.max()
    if not (low >= 0 and high <= 255):
        return None
    return to_unit_range(pixels.reshape(len(instances), h, w).astype(np.float32))


def batch_from_files(files: list[bytes], shape: Shape, preprocess: bool, limit: int) -> np.ndarray:
    return images_to_batch(files, shape, preprocess, limit)


def unsupported_media(content_type: str) -> InvalidInput:
    return InvalidInput(
        f"Cannot predict from a {content_type or 'body without a content type'}.",
        [
            FieldError(
                "",
                "unsupported content type",
                'send application/json {"instances": [...]} or '
                "multipart/form-data with one or more 'file' parts",
            )
        ],
        status=415,
    )
