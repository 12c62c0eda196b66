"""A run spec as a client sends it (JSON) to a checked, normalised ``RunSpec``.

One answer lists every problem: schema problems (a wrong type, a value out of range, an
unknown field) and semantic ones (an unknown class, a dense layer after a convolution) come
together, because the semantic checks still run on every section of the spec that parsed.
A misspelt field or value gets a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.errors import FieldError, InvalidSpec, field_errors
from app.runs.spec import (
    Conv2DLayer,
    DatasetSpec,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    MaxPool2DLayer,
    ModelSpec,
    RunSpec,
    TrainingSpec,
)
from app.runs.validation import Sections, check_sections, check_spec
from app.settings import Settings

_LAYERS: dict[str, type[BaseModel]] = {
    "dense": DenseLayer,
    "conv2d": Conv2DLayer,
    "max_pool2d": MaxPool2DLayer,
    "flatten": FlattenLayer,
    "dropout": DropoutLayer,
}
_QUOTED = re.compile(r"'([^']*)'")


def parse_spec(body: Any, settings: Settings) -> tuple[RunSpec, list[FieldError]]:
    """The normalised spec and its warnings; raises InvalidSpec with every problem found."""
    if not isinstance(body, dict):
        raise InvalidSpec(
            [
                FieldError(
                    "", "the run spec must be a JSON object", "send {dataset, model, training}"
                )
            ]
        )
    try:
        spec = RunSpec.model_validate(body)
    except ValidationError as exc:
        problems = schema_problems(exc, RunSpec)
        problems += check_sections(_sections(body), settings)
        raise InvalidSpec(_unique(problems)) from None
    return check_spec(spec, settings)


def schema_problems(exc: ValidationError, root: type[BaseModel]) -> list[FieldError]:
    """Pydantic's errors for a body of type ``root``, as the API words them, with a "did you
    mean" hint on a misspelt field or value (the sweep body reads its errors this way too)."""
    details = exc.errors()
    return [
        _with_suggestion(e, f, root) for e, f in zip(details, field_errors(details), strict=True)
    ]


def _sections(body: dict[str, Any]) -> Sections:
    """Each top-level section that parses on its own, so its semantic checks can still run."""

    def parsed(model: type[BaseModel], key: str) -> Any:
        try:
            return model.model_validate(body.get(key))
        except ValidationError:
            return None

    return Sections(
        dataset=parsed(DatasetSpec, "dataset"),
        model=parsed(ModelSpec, "model"),
        training=parsed(TrainingSpec, "training"),
    )


def _unique(problems: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for problem in problems:
        if (problem.pointer, problem.message) not in seen:
            seen.add((problem.pointer, problem.message))
            out.append(problem)
    return out


# --- did you mean ----------------------------------------------------------------------------


def did_you_mean(wrong: Any, options: Sequence[str]) -> str:
    """'did you mean "x"? ' when ``wrong`` is a near miss of one of ``options``, else ''."""
    if not isinstance(wrong, str) or not options:
        return ""
    close = difflib.get_close_matches(wrong, options, n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"? ' if close else ""


def _with_suggestion(error: ErrorDetails, problem: FieldError, root: type[BaseModel]) -> FieldError:
    suggestion = did_you_mean(*_misspelling(error, root))
    if not suggestion:
        return problem
    return FieldError(problem.pointer, problem.message, suggestion + problem.hint)


def _misspelling(error: ErrorDetails, root: type[BaseModel]) -> tuple[Any, Sequence[str]]:
    """The misspelt name or value and what it could have meant, when the error is one."""
    ctx = error.get("ctx") or {}
    if error["type"] == "extra_forbidden":
        model = _model_at(error["loc"][:-1], root)
        return error["loc"][-1], list(model.model_fields) if model else []
    if error["type"] == "literal_error":
        return error.get("input"), _QUOTED.findall(str(ctx.get("expected", "")))
    if error["type"] == "union_tag_invalid":
        return ctx.get("tag"), _QUOTED.findall(str(ctx.get("expected_tags", "")))
    return None, []


def _model_at(loc: Sequence[int | str], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model whose fields live at ``loc`` under ``root`` (list indices, the keys of a
    dict of models, and layer union tags included)."""
    model: type[BaseModel] | None = root
    a_key = False  # the next part is a key of a dict (a sweep's space pointer), not a field
    for part in loc:
        if isinstance(part, int) or a_key:
            a_key = False
            continue
        if part in _LAYERS:
            model = _LAYERS[part]
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
        a_key = field is not None and typing.get_origin(field.annotation) is dict
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        found = [m for a in typing.get_args(annotation) if (m := _model_in(a)) is not None]
        return found[0] if len(found) == 1 else None
    return None
