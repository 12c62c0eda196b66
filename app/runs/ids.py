"""Run ids and model names: how they look, checked before any lookup.

A string that cannot be an id names nothing, so it is answered without asking the database;
it also must not reach it: PostgreSQL answers text with a NUL byte with an error, not with
an empty result.
"""

from __future__ import annotations

import re
import secrets
import time

RUN_ID = re.compile(r"^[0-9a-f]{22}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def new_run_id() -> str:
    """Time-ordered, so listing newest-first and cursor pagination are an index scan."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(5)}"


def is_run_id(value: str) -> bool:
    return RUN_ID.fullmatch(value) is not None


def is_model_name(value: str) -> bool:
    return MODEL_NAME.fullmatch(value) is not None and not is_run_id(value)
