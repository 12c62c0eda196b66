"""A sweep body as a client sends it (JSON) to a typed ``SweepSpec``, or one 422 naming every
field that does not fit the schema, with the run specs' "did you mean" hints (`max_run`,
`valuess`, `pruning: 1`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.errors import FieldError, InvalidInput
from app.runs.parsing import schema_problems
from app.sweeps.spec import SweepSpec


def parse_sweep(body: Any) -> SweepSpec:
    if not isinstance(body, dict):
        raise InvalidInput(
            "The sweep must be a JSON object.",
            [FieldError("", "the sweep must be a JSON object", "send {base, space, ...}")],
        )
    try:
        return SweepSpec.model_validate(body)
    except ValidationError as exc:
        problems = schema_problems(exc, SweepSpec)
        n = len(problems)
        raise InvalidInput(
            f"The sweep has {n} problem{'s' if n != 1 else ''}; see errors.", problems
        ) from None
