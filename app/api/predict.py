"""Prediction routes: by run id or by model name, JSON instances or uploaded images.

These two routes carry most of the traffic, so requests reach ``serve_prediction`` through
plain Starlette routes placed ahead of FastAPI's router (``FAST_ROUTES``, mounted by
app.main): FastAPI's per-route machinery (dependency solving, exit stacks) costs about as
much as a small model's forward pass. The FastAPI declarations below document the routes in
OpenAPI and call the same function, so a request behaves the same whichever route it meets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import Scope

from app.api.deps import check_api_key
from app.errors import FieldError, InvalidInput
from app.inference.payload import unsupported_media
from app.inference.resolve import ModelLookup, Target
from app.inference.serving import PredictionService
from app.observability import PREDICT_LATENCY

router = APIRouter(tags=["prediction"])
PROBLEM = {"content": {"application/problem+json": {}}}
PREPROCESS_MODES = ("mnist", "none")
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
async def predict_with_run(run_id: str, request: Request,
                           preprocess: Preprocess = "mnist") -> Response:
    return await serve_prediction(request)


@router.post("/v1/models/{name}/predict", response_model=PredictionOut, openapi_extra=_BODY,
             responses=_RESPONSES)
async def predict_with_name(name: str, request: Request,
                            preprocess: Preprocess = "mnist") -> Response:
    return await serve_prediction(request)


async def serve_prediction(request: Request) -> Response:
    state = request.app.state
    service: PredictionService = state.predictions
    check_api_key(service.settings, request.headers.get("x-api-key"))
    preprocess = _preprocess_mode(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: list[bytes] | None = None
    body = b""
    if content_type == "multipart/form-data":
        files = await _uploaded_files(request, service.settings.max_predict_instances)
    elif content_type in ("application/json", ""):
        body = await request.body()
    else:
        raise unsupported_media(content_type)
    with PREDICT_LATENCY.time():
        content = await service.answer(_finder(request.path_params), body, files,
                                       preprocess == "mnist")
    # Serialised by our code to the schema above: validating it again would cost more than
    # the forward pass of a small model.
    return Response(content, media_type="application/json")


class _FastRoute(Route):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self  # FastAPI's router only records its own routes
        return match, child_scope


FAST_ROUTES = [_FastRoute(path, serve_prediction, methods=["POST"], include_in_schema=False)
               for path in ("/v1/runs/{run_id}/predict", "/v1/models/{name}/predict")]


def _finder(path_params: dict[str, str]) -> Callable[[ModelLookup], Target]:
    if "run_id" in path_params:
        run_id = path_params["run_id"]
        return lambda lookup: ModelLookup.by_run(lookup, run_id)
    name = path_params["name"]
    return lambda lookup: ModelLookup.by_name(lookup, name)


def _preprocess_mode(request: Request) -> str:
    values = request.query_params.getlist("preprocess")
    if not values:
        return "mnist"
    if len(values) > 1 or values[0] not in PREPROCESS_MODES:
        raise InvalidInput("Unknown preprocess mode.", [FieldError(
            "/preprocess", f"got {values if len(values) > 1 else values[0]!r}",
            f"use one of: {', '.join(PREPROCESS_MODES)}")])
    return values[0]


async def _uploaded_files(request: Request, limit: int) -> list[bytes]:
    try:
        # One over the limit, so that a request with too many files is told the real limit.
        form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    except HTTPException as exc:  # Starlette's answer to a multipart body it cannot parse
        if str(exc.detail).startswith(("Too many files", "Too many fields")):
            raise InvalidInput(f"Too many parts: at most {limit} files per request.", [FieldError(
                "/files", str(exc.detail).split(".")[0].lower(),
                f"split them into requests of at most {limit}")]) from None
        raise InvalidInput("The multipart body could not be parsed.", [FieldError(
            "", str(exc.detail), "send multipart/form-data with one 'file' part per image, "
            "as curl -F file=@digit.png does")], status=400) from None
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
