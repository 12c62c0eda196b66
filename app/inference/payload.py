"""Prediction request bodies → a (N, H, W) batch. Runs in a worker thread: decoding images
and parsing large JSON arrays are CPU work that must stay off the event loop."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from app.errors import FieldError, InvalidInput
from app.inference.preprocess import images_to_batch, parse_instances

Shape = tuple[int, int]


def batch_from_json(body: bytes, shape: Shape, preprocess: bool, limit: int) -> np.ndarray:
    if not body.strip():
        raise InvalidInput("The request body is empty.", [FieldError(
            "", "no JSON body", 'send {"instances": [...]} or multipart "file" parts')])
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The body is not valid JSON.", [FieldError(
            "", str(exc), 'send {"instances": [...]} as application/json')]) from None
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput("The JSON body needs an instances list.", [FieldError(
            "/instances", "missing", 'send {"instances": [[...28x28 pixels...]]}')])
    extra = sorted(set(payload) - {"instances"})
    if extra:
        raise InvalidInput("Unknown fields in the body.", [FieldError(
            f"/{key}", "not part of a prediction request", "remove it") for key in extra])
    return parse_instances(payload["instances"], shape, preprocess, limit)


def batch_from_files(files: list[bytes], shape: Shape, preprocess: bool, limit: int) -> np.ndarray:
    return images_to_batch(files, shape, preprocess, limit)


def unsupported_media(content_type: str) -> InvalidInput:
    return InvalidInput(f"Cannot predict from a {content_type or 'body without a content type'}.",
                        [FieldError("", "unsupported content type",
                                    "send application/json {\"instances\": [...]} or "
                                    "multipart/form-data with one or more 'file' parts")],
                        status=415)
