"""Domain exceptions, and the one place that turns them into RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("trainserve.api")


@dataclass(frozen=True)
class FieldError:
    pointer: str
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message, "hint": self.hint}


@dataclass
class ServiceError(Exception):
    """Base of every error a client can cause or see; ``status`` is its HTTP status."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400
    title: str = "Bad request"
    type: str = "about:blank"
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.detail


class InvalidSpec(ServiceError):
    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        n = len(errors)
        super().__init__(
            detail=detail or f"The run spec has {n} problem{'s' if n != 1 else ''}; see errors.",
            errors=errors,
            status=422,
            title="Invalid run spec",
            type="/problems/invalid-spec",
        )


class InvalidInput(ServiceError):
    def __init__(
        self, detail: str, errors: list[FieldError] | None = None, status: int = 422
    ) -> None:
        super().__init__(
            detail=detail,
            errors=errors or [],
            status=status,
            title="Invalid input",
            type="/problems/invalid-input",
        )


class NotFound(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=404, title="Not found", type="/problems/not-found")


class Conflict(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=409, title="Conflict", type="/problems/conflict")


class Unavailable(ServiceError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            detail=detail, status=503, title="Service unavailable", type="/problems/unavailable"
        )


class Unauthorized(ServiceError):
    def __init__(self, detail: str = "Missing or wrong X-API-Key header.") -> None:
        super().__init__(
            detail=detail,
            status=401,
            title="Unauthorized",
            type="/problems/unauthorized",
            headers={"WWW-Authenticate": "APIKey"},
        )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def service_error_response(
    exc: ServiceError,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The problem+json answer for a domain error; ``headers`` add to the error's own."""
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type_=exc.type,
        errors=[e.as_dict() for e in exc.errors],
        headers={**(exc.headers or {}), **(headers or {})} or None,
        extra=extra,
    )


def escape_pointer_token(token: str) -> str:
    """One JSON pointer reference token (RFC 6901): ``~`` and ``/`` escaped."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_from_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """JSON pointer for a pydantic error location, without the ``body`` root or union tags."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out: list[str] = []
    for i, part in enumerate(parts):
        # Discriminated unions put the tag ("dense", "str", ...) after the list index.
        if i > 0 and (
            (isinstance(parts[i - 1], int) and part in _UNION_TAG_ORDER)
            or (parts[i - 1] == "lr_schedule" and part in _SCHEDULE_TAGS)
        ):
            continue
        if isinstance(part, str) and (
            part.startswith("function-") or part in ("str", "dict[str,any]")
        ):
            continue
        out.append(escape_pointer_token(str(part)))
    return "/" + "/".join(out) if out else ""


_UNION_TAG_ORDER = (
    "dense",
    "conv2d",
    "max_pool2d",
    "flatten",
    "dropout",
    "batch_normalization",
)
_SCHEDULE_TAGS = ("exponential", "cosine", "reduce_on_plateau")
_FALLBACK_HINT = "fix this value; GET /openapi.json describes every field"
_NUMBER_TYPES = {"int_type", "float_type", "int_parsing", "float_parsing"}
_FASTAPI_BODY_ERROR = "There was an error parsing the body"

_HINTS = {
    "missing": "add this field",
    "extra_forbidden": "remove this field; it is not part of the schema",
    "literal_error": "use one of the allowed values",
    "union_tag_invalid": "use one of the allowed values",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "int_from_float": "use a whole number",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "string_type": "use a JSON string",
    "string_too_long": "use a shorter text",
    "string_pattern_mismatch": "use printable text matching the pattern (no control characters)",
    "float_type": "use a number",
    "finite_number": "use a finite number",
    "float_parsing": "use a number",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "too_short": "add more items",
    "too_long": "use fewer items",
    "json_invalid": "send valid JSON",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
    "list_type": "send a JSON array",
}


def validation_field_errors(exc: RequestValidationError) -> list[FieldError]:
    return field_errors(exc.errors())


def field_errors(details: Sequence[Any]) -> list[FieldError]:
    """One FieldError per pydantic error (``ValidationError.errors()`` or FastAPI's)."""
    errors = []
    for err in details:
        hint = _HINTS.get(err["type"], "")
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            hint = f"use one of: {ctx['expected']}"
        if err["type"] in _NUMBER_TYPES and isinstance(err.get("input"), str):
            # Specs are strict: "32" is not silently read as 32.
            hint = f"write the number without quotes: {err['input'].strip()}"
        msg = err["msg"]
        if err["type"] == "json_invalid":
            msg = (
                f"{msg} (at character {err['loc'][-1]})" if isinstance(err["loc"][-1], int) else msg
            )
            errors.append(FieldError("", msg, hint))
            continue
        pointer = pointer_from_loc(err["loc"])
        if err["type"] == "missing" and pointer == "" and tuple(err["loc"]) == ("body",):
            msg, hint = "The request body is empty", "send a JSON object in the body"
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            pointer += "/" + str(ctx.get("discriminator", "type")).strip("'")
            # union_tag_not_found has no expected_tags in its ctx: name the layer types ourselves.
            known = _SCHEDULE_TAGS if pointer.endswith("lr_schedule") else _UNION_TAG_ORDER
            tags = ctx.get("expected_tags") or ", ".join(f"'{t}'" for t in known)
            hint = f"use one of: {tags}"
        errors.append(FieldError(pointer, msg, hint or _FALLBACK_HINT))
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        # Open Inference Protocol clients (tritonclient) read the message from "error".
        extra = {"error": exc.detail} if request.url.path.startswith("/v2/") else None
        return service_error_response(exc, extra=extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_field_errors(exc)
        n = len(errors)
        return problem_response(
            422,
            "Invalid request",
            f"The request has {n} problem{'s' if n != 1 else ''}; see errors.",
            type_="/problems/invalid-request",
            errors=[e.as_dict() for e in errors],
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return problem_response(
            500,
            "Internal server error",
            "The server failed to handle this request; it has been logged.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        errors = None
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; a path served by
            # several routes (GET and DELETE /v1/runs/{id}) must list them all.
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
            # FastAPI's own answer when its JSON parser gives up (e.g. nesting past its limit).
            errors = [
                FieldError(
                    "",
                    "the body could not be parsed as JSON",
                    "send one JSON object, as /openapi.json describes",
                ).as_dict()
            ]
        return problem_response(
            exc.status_code,
            _title(exc.status_code),
            str(exc.detail),
            headers=headers,
            errors=errors,
        )


def allowed_methods(request: Request) -> str:
    """The methods of the most specific path template matching the request's path, as the
    OpenAPI document lists them (/v1/runs/compare is GET only, though /v1/runs/{run_id}
    also matches it)."""
    path = request.url.path
    by_template: dict[str, set[str]] = {}
    for route in _all_routes(request.app.router.routes):
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            by_template.setdefault(route.path, set()).update(route_methods)
    if not by_template:
        return ""
    best = min(by_template, key=lambda template: template.count("{"))
    return ", ".join(sorted(by_template[best]))


def _all_routes(routes: list[Any]) -> Iterator[Any]:
    # FastAPI keeps an included router's routes inside a wrapper (original_router).
    for route in routes:
        yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _all_routes(inner.routes)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class PayloadTooLarge(ServiceError):
    def __init__(self, limit: int, hint: str = "send fewer or smaller images per request") -> None:
        super().__init__(
            detail=f"The request body is over the limit of {limit:,} bytes.",
            errors=[FieldError("", "body too large", hint)],
            status=413,
            title="Payload too large",
            type="/problems/payload-too-large",
        )
