"""Prediction routes: by run id or by model name, JSON instances or uploaded images."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from app.api.deps import SettingsDep
from app.errors import FieldError, InvalidInput
from app.inference import resolve
from app.inference.cache import ModelCache
from app.inference.payload import batch_from_files, batch_from_json, unsupported_media
from app.inference.resolve import Target
from app.observability import PREDICT_LATENCY
from app.settings import Settings

router = APIRouter(tags=["prediction"])
PROBLEM = {"content": {"application/problem+json": {}}}


async def get_model_cache(request: Request) -> ModelCache:
    return request.app.state.model_cache


CacheDep = Annotated[ModelCache, Depends(get_model_cache)]
Preprocess = Annotated[Literal["mnist", "none"], Query(
    description="mnist: grayscale, invert dark-on-light, crop, fit 20x20, centre by mass; "
                "none: pixels pass through (shape checked)")]


class ModelRef(BaseModel):
    run_id: str
    name: str


class PredictionOut(BaseModel):
    model: ModelRef
    predictions: list[dict[str, Any]] = Field(description=(
        'multi-class {"label", "probabilities"}; binary {"label", "probability"} (of the '
        'second class); multi-label {"labels", "probabilities"}; regression {"value"}'))


_BODY = {"requestBody": {"content": {
    "application/json": {"schema": {"type": "object", "required": ["instances"], "properties": {
        "instances": {"type": "array", "items": {}, "description":
                      "H x W nested pixels, H*W flat pixels (0-255 or 0-1), or {\"b64\": ...}"}}},
        "example": {"instances": [{"b64": "<base64 PNG>"}]}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "undecodable image", **PROBLEM}, 404: {"description": "unknown", **PROBLEM},
    409: {"description": "run not succeeded", **PROBLEM}, 413: {"description": "body too large", **PROBLEM},
    415: {"description": "unsupported content type", **PROBLEM},
    422: {"description": "bad instances", **PROBLEM}}


@router.post("/v1/runs/{run_id}/predict", response_model=PredictionOut, openapi_extra=_BODY,
             responses=_RESPONSES)
async def predict_with_run(run_id: str, request: Request, settings: SettingsDep, cache: CacheDep,
                           preprocess: Preprocess = "mnist") -> PredictionOut:
    return await _predict(request, settings, cache, partial(resolve.by_run, settings, run_id),
                          preprocess)


@router.post("/v1/models/{name}/predict", response_model=PredictionOut, openapi_extra=_BODY,
             responses=_RESPONSES)
async def predict_with_name(name: str, request: Request, settings: SettingsDep, cache: CacheDep,
                            preprocess: Preprocess = "mnist") -> PredictionOut:
    return await _predict(request, settings, cache, partial(resolve.by_name, settings, name),
                          preprocess)


async def _predict(request: Request, settings: Settings, cache: ModelCache,
                   find: Callable[[], Target], preprocess: str) -> PredictionOut:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: list[bytes] | None = None
    body = b""
    if content_type == "multipart/form-data":
        files = await _uploaded_files(request, settings.max_predict_instances)
    elif content_type in ("application/json", ""):
        body = await request.body()
    else:
        raise unsupported_media(content_type)
    with PREDICT_LATENCY.time():
        # One thread hop for lookup, decoding and the forward pass; no more threads than
        # cores, so concurrent batches do not fight over the GIL.
        target, answers = await anyio.to_thread.run_sync(
            _answer, cache, settings, find, body, files, preprocess == "mnist",
            limiter=request.app.state.predict_limiter)
    return PredictionOut(model=ModelRef(run_id=target.run_id, name=target.name), predictions=answers)


def _answer(cache: ModelCache, settings: Settings, find: Callable[[], Target], body: bytes,
            files: list[bytes] | None, preprocess: bool) -> tuple[Target, list[dict[str, Any]]]:
    target = find()
    predictor = resolve.predictor(cache, settings, target)
    limit = settings.max_predict_instances
    if files is not None:
        batch = batch_from_files(files, predictor.input_shape, preprocess, limit)
    else:
        batch = batch_from_json(body, predictor.input_shape, preprocess, limit)
    return target, predictor.predict(batch)


async def _uploaded_files(request: Request, limit: int) -> list[bytes]:
    form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    try:
        uploads = form.getlist("file")
        if not uploads:
            raise InvalidInput("No images uploaded.", [FieldError(
                "/files", f"no 'file' part among {sorted(form.keys()) or 'no parts'}",
                "send each image as a multipart part named 'file'")])
        bad = [i for i, u in enumerate(uploads) if not isinstance(u, UploadFile)]
        if bad:
            raise InvalidInput("A 'file' part is not a file.", [FieldError(
                f"/files/{i}", "a text field, not an uploaded file", "attach the image file")
                for i in bad])
        return [await u.read() for u in uploads]  # type: ignore[union-attr]
    finally:
        await form.close()
