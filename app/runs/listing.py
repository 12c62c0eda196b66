"""The run list's JSON, each run's spec passed through as the database holds it.

A page of 100 runs is mostly specs. Decoding each spec from its JSON column, validating it
into ``RunOut`` and encoding it again was a fifth of the list's time (bench/list_runs.py).
The list reads the spec's JSON text instead, and the seed (the one part of the spec the
answer also shows elsewhere) with a JSON path, and splices the text into the answer
unparsed (``orjson.Fragment``). Every other field is built by ``RunOut`` as for one run, so
the answer is the same JSON as ``RunList`` would give.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from sqlalchemy import Text, cast
from sqlalchemy.orm import defer

from app.db.session import read_session
from app.db.tables import Run
from app.enums import RunStatus
from app.runs.schemas import RunOut
from app.runs.service import list_statement
from app.settings import Settings

# The standard library writes NaN and Infinity, which are not JSON: a spec holding either
# (or those letters anywhere) is decoded and encoded as RunOut does (null), not passed through.
_NOT_JSON = ("NaN", "Infinity")


def run_list_json(
    settings: Settings, status: RunStatus | None, limit: int, cursor: str | None
) -> bytes:
    stmt = (
        list_statement(status, limit, cursor)
        .options(defer(Run.spec))
        .add_columns(cast(Run.spec, Text), Run.spec[("training", "seed")].as_integer())
    )
    with read_session(settings.resolved_database_url) as session:
        rows = session.execute(stmt).all()
    page, more = rows[:limit], len(rows) > limit
    items = [_item(run, spec_json, seed) for run, spec_json, seed in page]
    next_cursor = page[-1][0].id if more and page else None
    return orjson.dumps({"items": items, "next_cursor": next_cursor})


def _item(run: Run, spec_json: str, seed: int) -> dict[str, Any]:
    if any(word in spec_json for word in _NOT_JSON):
        return RunOut.of(run, spec=json.loads(spec_json)).model_dump(mode="json")
    item = RunOut.of(run, spec={}, seed=seed).model_dump(mode="json")
    item["spec"] = orjson.Fragment(spec_json)
    return item
