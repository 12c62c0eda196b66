"""Prediction routes: by run id or by model name, JSON instances or uploaded images.

These two routes carry most of the traffic. Each has one handler, declared like any FastAPI
route (that declaration is its OpenAPI description), but served by ``LeanRoute``: FastAPI's
per-request machinery (dependency solving, two exit stacks per request) costs about as much
as a small model's forward pass, so the route parses the little these endpoints take (the
API key, the path, ``?preprocess``) itself, once, and calls the endpoint with it. app.main
mounts them ahead of every router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.routing import request_response

from app.api import multipart
from app.api.deps import check_api_key, require_api_key
from app.api.model_names import ModelNamePath
from app.api.openapi import PROBLEM
from app.errors import FieldError, InvalidInput
from app.inference.decoding.request import unsupported_media
from app.inference.resolve import ModelLookup, Target
from app.inference.serving import PredictionService
from app.metrics import PREDICT_LATENCY

PREPROCESS_MODES = ("mnist", "none")
Preprocess = Annotated[
    Literal["mnist", "none"],
    Query(
        description="mnist: grayscale, invert dark-on-light, crop, fit 20x20, centre by mass; "
        "none: pixels pass through (shape checked)"
    ),
]

Include = Annotated[
    Literal["input"] | None,
    Query(
        description="input: add to each prediction the image as the model saw it after "
        'preprocessing, as "input": "data:image/png;base64,..."'
    ),
]


class ModelRef(BaseModel):
    run_id: str
    name: str


class PredictionOut(BaseModel):
    model: ModelRef
    predictions: list[dict[str, Any]] = Field(
        description=(
            'multi-class {"label", "probabilities"}; binary {"label", "probability" (of the '
            'second class), "confidence" (of the answered label)}; multi-label {"labels", '
            '"probabilities", "label_names" (what each probability is of)}; regression {"value"}; '
            'with ?include=input each also has "input" (a PNG data URL)'
        )
    )


_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["instances"],
                    "properties": {
                        "instances": {
                            "type": "array",
                            "minItems": 1,
                            "items": {},
                            "description": 'H x W nested pixels, H*W flat pixels (0-255 or 0-1), or {"b64": ...}',
                        }
                    },
                },
                "example": {"instances": [{"b64": "<base64 PNG>"}]},
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                }
            },
        }
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "undecodable image", **PROBLEM},
    404: {"description": "unknown", **PROBLEM},
    409: {"description": "run not succeeded", **PROBLEM},
    413: {"description": "body too large", **PROBLEM},
    415: {"description": "unsupported content type", **PROBLEM},
    422: {"description": "bad instances", **PROBLEM},
}


class LeanRoute(APIRoute):
    """Documented by FastAPI from its declaration; served without FastAPI's per-request work
    (app.api.lean.LeanPipeline calls ``respond``).

    The endpoint is called as ``endpoint(request, preprocess=..., **path_params)``. The
    declared ``require_api_key`` dependency documents the key in OpenAPI; it is checked here,
    with the same function, because dependencies are not solved for these routes.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(self.respond)

    async def respond(self, request: Request) -> Response:
        check_api_key(request.app.state.settings, request.headers.get("x-api-key"))
        response: Response = await self.endpoint(
            request,
            preprocess=_preprocess_mode(request),
            include=_include(request),
            **request.path_params,
        )
        return response


router = APIRouter(
    tags=["prediction"], route_class=LeanRoute, dependencies=[Depends(require_api_key)]
)


@router.post(
    "/v1/runs/{run_id}/predict",
    response_model=PredictionOut,
    openapi_extra=_BODY,
    responses=_RESPONSES,
)
async def predict_with_run(
    request: Request, run_id: str, preprocess: Preprocess = "mnist", include: Include = None
) -> Response:
    return await _serve(request, preprocess, include, lambda lookup: lookup.by_run(run_id))


@router.post(
    "/v1/models/{name}/predict",
    response_model=PredictionOut,
    openapi_extra=_BODY,
    responses=_RESPONSES,
)
async def predict_with_name(
    request: Request, name: ModelNamePath, preprocess: Preprocess = "mnist", include: Include = None
) -> Response:
    return await _serve(request, preprocess, include, lambda lookup: lookup.by_name(name))


async def _serve(
    request: Request,
    preprocess: str,
    include: str | None,
    find: Callable[[ModelLookup], Target],
) -> Response:
    service: PredictionService = request.app.state.predictions
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
        content = await service.answer(
            find, body, files, preprocess == "mnist", with_input=include == "input"
        )
    # Serialised by our code to the schema above: validating it again would cost more than
    # the forward pass of a small model.
    return Response(content, media_type="application/json")


def _include(request: Request) -> str | None:
    values = request.query_params.getlist("include")
    if not values:
        return None
    if values != ["input"]:
        raise InvalidInput(
            "Unknown include option.",
            [FieldError("/include", f"got {values}", "use include=input, or leave it out")],
        )
    return "input"


def _preprocess_mode(request: Request) -> str:
    values = request.query_params.getlist("preprocess")
    if not values:
        return "mnist"
    if len(values) > 1 or values[0] not in PREPROCESS_MODES:
        raise InvalidInput(
            "Unknown preprocess mode.",
            [
                FieldError(
                    "/preprocess",
                    f"got {values if len(values) > 1 else values[0]!r}",
                    f"use one of: {', '.join(PREPROCESS_MODES)}",
                )
            ],
        )
    return values[0]


async def _uploaded_files(request: Request, limit: int) -> list[bytes]:
    # A declared length has been checked against the body limit already (app.limits), so the
    # body can be read whole and, when it is the usual shape, split: ~10 µs instead of
    # request.form()'s ~73 (app.api.multipart; a one-PNG request's CPU 520 -> 422 µs in the
    # app, alternated). Starlette keeps the body it read, and request.form() parses that,
    # should the short cut decline. A streamed body is left to request.form(), which may
    # refuse it before it is all read, as before.
    if request.headers.get("content-length", "").isdigit():
        body = await request.body()
        files = multipart.uploaded_files(request.headers.get("content-type", ""), body, limit)
        if files is not None:
            return files
    try:
        # One over the limit, so that a request with too many files is told the real limit.
        form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    except HTTPException as exc:  # Starlette's answer to a multipart body it cannot parse
        if str(exc.detail).startswith(("Too many files", "Too many fields")):
            raise InvalidInput(
                f"Too many parts: at most {limit} files per request.",
                [
                    FieldError(
                        "/files",
                        str(exc.detail).split(".")[0].lower(),
                        f"split them into requests of at most {limit}",
                    )
                ],
            ) from None
        raise InvalidInput(
            "The multipart body could not be parsed.",
            [
                FieldError(
                    "",
                    str(exc.detail),
                    "send multipart/form-data with one 'file' part per image, "
                    "as curl -F file=@digit.png does",
                )
            ],
            status=400,
        ) from None
    try:
        uploads = form.getlist("file")
        if not uploads:
            raise InvalidInput(
                "No images uploaded.",
                [
                    FieldError(
                        "/files",
                        f"no 'file' part among {sorted(form.keys()) or 'no parts'}",
                        "send each image as a multipart part named 'file'",
                    )
                ],
            )
        bad = [i for i, u in enumerate(uploads) if not isinstance(u, UploadFile)]
        if bad:
            raise InvalidInput(
                "A 'file' part is not a file.",
                [
                    FieldError(
                        f"/files/{i}", "a text field, not an uploaded file", "attach the image file"
                    )
                    for i in bad
                ],
            )
        return [await u.read() for u in uploads]  # type: ignore[union-attr]
    finally:
        await form.close()
