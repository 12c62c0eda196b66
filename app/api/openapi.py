"""The OpenAPI document, made to describe every answer the server really gives.

Clients are generated from /openapi.json, so an answer it does not list is a bug in the
client. FastAPI documents only what routes declare; the answers added in one place by the
API key check, the body limit, the body parser and the problem handler are added here, to
every operation they can happen on:

- 401 on every operation that takes the X-API-Key header, when keys are set; when none is
  set, no operation asks for the header (the document describes this server, not a
  possible one);
- 400 (body is not parseable), 413 (over the body limit) on every operation with a body;
- 422 as problem+json (FastAPI's default documents its own error shape, which we never send);
- every 4xx/5xx as ``application/problem+json`` with the Problem schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from app.errors import PROBLEM_JSON

_REF = {"$ref": "#/components/schemas/ProblemDetails"}
PROBLEM_SCHEMAS: dict[str, Any] = {
    "ProblemDetailsField": {
        "type": "object",
        "required": ["pointer", "message"],
        "properties": {
            "pointer": {"type": "string", "description": "JSON pointer to the cause"},
            "message": {"type": "string"},
            "hint": {"type": "string", "description": "how to fix it"},
        },
    },
    "ProblemDetails": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemDetailsField"},
            },
        },
    },
}
_ADDED = {
    "401": "missing or wrong X-API-Key (only when TRAINSERVE_API_KEY is set)",
    "400": "the body could not be parsed",
    "413": "the body is over the size limit",
    "422": "invalid request: every problem listed with its pointer",
}


def install(app: FastAPI, keys_configured: bool) -> None:
    """Replace ``app.openapi`` with one that post-processes FastAPI's document once."""
    build: Callable[[], dict[str, Any]] = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        schema = build()
        if not done:
            document_problems(schema, keys_configured)
            done = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(schema: dict[str, Any], keys_configured: bool) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(PROBLEM_SCHEMAS)
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if not keys_configured:
                op.pop("security", None)
            _document(op)
    if not keys_configured:
        schema["components"].pop("securitySchemes", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _document(op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    wanted = []
    if op.get("security"):
        wanted.append("401")
    if "requestBody" in op:
        wanted += ["400", "413", "422"]
    if op.get("parameters"):
        wanted.append("422")
    for status in wanted:
        responses.setdefault(status, {"description": _ADDED[status]})
    for status, answer in responses.items():
        if status[0] in "45":
            answer["content"] = {PROBLEM_JSON: {"schema": _REF}}


# The content of a problem answer, for routes' ``responses``.
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (to report schema and
    semantic problems together) but whose body is ``model``: see ``document_models``."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def document_models(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add ``models`` (and the models they use) to the OpenAPI components, for bodies that
    ``body_of`` describes: FastAPI only lists the models its own parameters use."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                described = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, definition in described.pop("$defs", {}).items():
                    components.setdefault(name, definition)
                components.setdefault(model.__name__, described)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
