"""Run ids and model names: how they look, checked before any lookup.

A string that cannot be an id names nothing, so it is answered without asking the database;
it also must not reach it: PostgreSQL answers text with a NUL byte with an error, not with
an empty result.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

RUN_ID_PATTERN = r"^[0-9a-f]{22}$"
RUN_ID = re.compile(RUN_ID_PATTERN)
# The one rule for a model name, and the JSON Schema that declares it for {name} in the
# OpenAPI document: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit,
# and not shaped like a run id (so /v1/models/{name}/predict is never ambiguous). "not"
# rather than a lookahead: JSON Schema generators (and schemathesis) handle it cheaply.
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
MODEL_NAME_SCHEMA: dict[str, Any] = {
    "pattern": MODEL_NAME_PATTERN,
    "not": {"pattern": RUN_ID_PATTERN},
}


def new_run_id() -> str:
    """Time-ordered, so listing newest-first and cursor pagination are an index scan."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


def is_run_id(value: str) -> bool:
    return RUN_ID.fullmatch(value) is not None


def is_model_name(value: str) -> bool:
    # fullmatch: `$` alone would also take a name with a trailing newline.
    return MODEL_NAME.fullmatch(value) is not None and not is_run_id(value)
