"""Open Inference Protocol v2 (KServe / Triton): health, model metadata, readiness, infer.

``{name}`` is a model name or a run id; ``tritonclient.http`` works against it unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import CacheDep, LookupDep, SettingsDep
from app.api.openapi import PROBLEM
from app.enums import Task
from app.errors import problem_response
from app.inference import oip, resolve
from app.inference.cache import ModelCache
from app.inference.predictor import Predictor
from app.inference.resolve import ModelLookup
from app.metrics import PREDICT_LATENCY
from app.settings import Settings

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])
live_router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])  # no API key: health


@live_router.get("/health/live")
def live() -> dict[str, bool]:
    return {"live": True}


@live_router.get("/health/ready", responses={503: {"description": "not ready", **PROBLEM}})
def ready(request: Request) -> JSONResponse:
    if not request.app.state.warmup.is_set():
        return problem_response(
            503,
            "Not ready",
            "named models are still loading",
            extra={"error": "named models are still loading"},
        )
    return JSONResponse({"ready": True})


# Triton's names for the runtime that answers (onnxruntime_onnx is Triton's own).
_PLATFORMS = {
    "onnxruntime": "onnxruntime_onnx",
    "litert": "litert_tflite",
    "keras": "tensorflow_keras",
}


@router.get("/models/{name}", responses={404: {"description": "unknown", **PROBLEM}})
async def metadata(
    name: str, settings: SettingsDep, cache: CacheDep, lookup: LookupDep
) -> dict[str, Any]:
    predictor = await run_in_threadpool(_loaded, cache, settings, lookup, name)
    h, w = predictor.input_shape
    return {
        "name": name,
        "versions": ["1"],
        "platform": _PLATFORMS.get(predictor.runtime, predictor.runtime),
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, h, w]}],
        "outputs": _output_metadata(predictor),
    }


@router.get("/models/{name}/ready", responses={404: {"description": "unknown", **PROBLEM}})
async def model_ready(
    name: str, settings: SettingsDep, cache: CacheDep, lookup: LookupDep
) -> dict[str, Any]:
    await run_in_threadpool(_loaded, cache, settings, lookup, name)
    return {"name": name, "ready": True}


@router.post(
    "/models/{name}/infer",
    responses={
        200: {"description": "outputs probabilities FP32 [N, C] and label INT64 [N]"},
        400: {"description": "bad tensors", **PROBLEM},
        404: {"description": "unknown", **PROBLEM},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "inputs": [
                            {
                                "name": "input",
                                "shape": [1, 784],
                                "datatype": "UINT8",
                                "data": [0] * 784,
                            }
                        ]
                    },
                }
            }
        }
    },
)
async def infer(
    name: str,
    request: Request,
    settings: SettingsDep,
    cache: CacheDep,
    lookup: LookupDep,
    inference_header_content_length: Annotated[str | None, Header()] = None,
) -> Response:
    body = await request.body()
    with PREDICT_LATENCY.time():
        content, header_length = await run_in_threadpool(
            _infer, cache, settings, lookup, name, body, inference_header_content_length
        )
    if header_length is None:
        return Response(content, media_type="application/json")
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(header_length)},
    )


def _loaded(cache: ModelCache, settings: Settings, lookup: ModelLookup, name: str) -> Predictor:
    # Lookup and load in one thread hop: each hop costs about as much as a small forward pass.
    return resolve.cached_predictor(cache, settings, lookup.by_name_or_run(name))


def _infer(
    cache: ModelCache,
    settings: Settings,
    lookup: ModelLookup,
    name: str,
    body: bytes,
    header_length: str | None,
) -> tuple[bytes, int | None]:
    predictor = _loaded(cache, settings, lookup, name)
    request = oip.parse(body, header_length, predictor.input_shape)
    return oip.encode(name, request, _outputs(predictor, request.batch))


def _outputs(predictor: Predictor, batch: np.ndarray) -> dict[str, np.ndarray]:
    if predictor.head.task == Task.REGRESSION:
        return {"value": predictor.values(batch).astype(np.float32)}
    probs = predictor.predict_proba(batch)
    classes = np.asarray(predictor.head.classes, dtype=np.int64)
    if predictor.head.task == Task.MULTILABEL:
        return {"probabilities": probs, "label": (probs >= 0.5).astype(np.int64)}
    return {"probabilities": probs, "label": classes[probs.argmax(axis=1)]}


def _output_metadata(predictor: Predictor) -> list[dict[str, Any]]:
    if predictor.head.task == Task.REGRESSION:
        return [{"name": "value", "datatype": "FP32", "shape": [-1]}]
    c = 2 if predictor.head.task == Task.BINARY else predictor.head.units
    label_shape = [-1, c] if predictor.head.task == Task.MULTILABEL else [-1]
    return [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, c]},
        {"name": "label", "datatype": "INT64", "shape": label_shape},
    ]
