"""Open Inference Protocol v2 (KServe / Triton) tensors: request decoding, response encoding,
including Triton's binary-data extension that ``tritonclient.http`` uses by default."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import FieldError, InvalidInput
from app.inference.decoding.image import to_unit_range
from app.inference.decoding.request import loads

_DTYPES = {"FP32": np.float32, "UINT8": np.uint8}
_OUT_DTYPES = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64"}


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    batch: np.ndarray  # (N, H, W) float32 in [0, 1]
    outputs: list[str] | None  # None: every output
    binary: set[str]  # outputs to send as raw bytes


def parse(body: bytes, header_length: str | None, shape: tuple[int, int]) -> InferRequest:
    json_part, binary = _split(body, header_length)
    try:
        request = loads(json_part)
    except ValueError as exc:  # UnicodeDecodeError is one too
        raise _bad(
            "", f"the inference header is not JSON: {exc}", "send a v2 inference request"
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise _bad("/inputs", "missing", 'send {"inputs": [{"name", "shape", "datatype", "data"}]}')
    if len(request["inputs"]) != 1:
        raise _bad("/inputs", f"{len(request['inputs'])} inputs", "send exactly one input tensor")
    batch = _input(request["inputs"][0], binary, shape)
    wanted = request.get("outputs")
    names = [o.get("name") for o in wanted] if isinstance(wanted, list) and wanted else None
    binary_out = {
        o.get("name") for o in wanted or [] if (o.get("parameters") or {}).get("binary_data")
    }
    if (request.get("parameters") or {}).get("binary_data_output"):
        binary_out = {"*"}
    return InferRequest(request.get("id"), batch, names, binary_out)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise _bad(
            "",
            f"Inference-Header-Content-Length {header_length!r} does not fit the body",
            "send the JSON header's byte length",
        )
    n = int(header_length)
    return body[:n], body[n:]


def _input(tensor: dict[str, Any], binary: bytes, shape: tuple[int, int]) -> np.ndarray:
    at = "/inputs/0"
    dtype = _DTYPES.get(tensor.get("datatype", ""))
    if dtype is None:
        raise _bad(
            f"{at}/datatype", f"{tensor.get('datatype')!r} is not supported", "use FP32 or UINT8"
        )
    dims = tensor.get("shape")
    h, w = shape
    if not (
        isinstance(dims, list)
        and dims
        and all(isinstance(d, int) and d > 0 for d in dims)
        and dims[1:] in ([h, w], [h * w])
    ):
        raise _bad(
            f"{at}/shape",
            f"input shape {dims} does not fit this model",
            f"use [N, {h}, {w}] or [N, {h * w}]",
        )
    size = dims[0] * h * w
    size_bytes = (tensor.get("parameters") or {}).get("binary_data_size")
    if size_bytes is not None:
        if size_bytes != size * np.dtype(dtype).itemsize or len(binary) < size_bytes:
            raise _bad(
                f"{at}/parameters/binary_data_size",
                f"{size_bytes} bytes",
                f"send {size * np.dtype(dtype).itemsize} bytes of {tensor['datatype']}",
            )
        values = np.frombuffer(binary[:size_bytes], dtype=dtype)
    else:
        try:
            values = np.asarray(tensor.get("data"), dtype=dtype).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise _bad(f"{at}/data", str(exc), "send numbers matching the datatype") from None
        if values.size != size:
            raise _bad(
                f"{at}/data", f"{values.size} values for shape {dims}", f"send {size} values"
            )
    return _scale(values.reshape(dims[0], h, w), f"{at}/data")


def _scale(x: np.ndarray, at: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
        raise _bad(
            at, "pixels must be finite and within 0-255 (or 0-1)", "clip or rescale the input"
        )
    return to_unit_range(x)


def encode(
    model_name: str, request: InferRequest, outputs: dict[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary data follows it."""
    names = request.outputs or list(outputs)
    unknown = [n for n in names if n not in outputs]
    if unknown:
        raise _bad("/outputs", f"unknown output(s) {unknown}", f"ask for {sorted(outputs)}")
    entries, blobs = [], []
    for name in names:
        arr = outputs[name]
        entry: dict[str, Any] = {
            "name": name,
            "datatype": _OUT_DTYPES[arr.dtype],
            "shape": list(arr.shape),
        }
        if "*" in request.binary or name in request.binary:
            raw = np.ascontiguousarray(arr).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = arr.reshape(-1).tolist()
        entries.append(entry)
    header: dict[str, Any] = {"model_name": model_name, "model_version": "1", "outputs": entries}
    if request.id is not None:
        header["id"] = request.id
    head = json.dumps(header).encode()
    return (head + b"".join(blobs), len(head)) if blobs else (head, None)


def _bad(pointer: str, message: str, hint: str) -> InvalidInput:
    return InvalidInput(
        f"Bad inference request: {message}.", [FieldError(pointer, message, hint)], status=400
    )
