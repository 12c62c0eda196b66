"""The run list's JSON, built from plain rows without a model object per run.

A page of 100 runs cost ~10 ms to build (bench/list_runs.py): loading 100 ORM objects,
building 100 ``RunOut``s with their nested models, decoding every spec and encoding it
again. Here one Core query selects the columns ``RunOut`` shows, each spec is read as JSON
text (its seed by a JSON path) and spliced into the answer unparsed (``orjson.Fragment``),
and the other fields are the values ``RunOut`` would hold: ``run_fields`` (shared with
``RunOut.of``) gives them, and the nested objects get their model's fields and defaults.
orjson then writes what pydantic would (UTC datetimes with ``Z``, enums by value, NaN as
null), so each item is the JSON ``GET /v1/runs/{id}`` answers; tests/runs/test_listing.py
holds the two together on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Select, Text, bindparam, cast, select

from app.db.session import read_session
from app.db.tables import Run
from app.enums import RunStatus
from app.errors import InvalidInput
from app.runs.ids import is_run_id
from app.runs.schemas import Export, Problem, Reproducibility, run_fields
from app.settings import Settings

# The standard library writes NaN and Infinity, which are not JSON: a spec holding either
# (or those letters anywhere) is decoded, and orjson writes them as RunOut does (null).
_NOT_JSON = ("NaN", "Infinity")


# What run_fields reads of a run, and the spec as text with its seed.
_COLUMNS = (
    Run.id,
    Run.name,
    Run.status,
    Run.warnings,
    Run.created_at,
    Run.started_at,
    Run.finished_at,
    Run.epoch,
    Run.epochs,
    Run.last_metrics,
    Run.evaluation,
    Run.failure_reason,
    Run.attempts,
    Run.queue,
    Run.artifact_sha256,
    Run.artifact_bytes,
    Run.exports,
    Run.reproducibility,
    Run.spec_sha256,
    Run.sweep_id,
    Run.early_stopping,
    cast(Run.spec, Text).label("spec_json"),
    Run.spec[("training", "seed")].as_integer().label("seed"),
)


def _page(filtered: bool, after: bool) -> Select[Any]:
    stmt = select(*_COLUMNS).order_by(Run.id.desc()).limit(bindparam("rows"))
    if filtered:
        stmt = stmt.where(Run.status == bindparam("status"))
    if after:
        stmt = stmt.where(Run.id < bindparam("cursor"))
    return stmt


# The four shapes of the page's query, built once and run with parameters: building a select
# of 23 columns per request, and SQLAlchemy matching a new statement's columns to the cached
# compiled one, cost ~1 ms of a ~6 ms page.
_PAGES = {(f, a): _page(f, a) for f in (False, True) for a in (False, True)}


def page_statement(
    status: RunStatus | None, limit: int, cursor: str | None
) -> tuple[Select[Any], dict[str, Any]]:
    """A page of runs, newest first, and one more row that says whether another page follows:
    the statement and its parameters."""
    if cursor is not None and not is_run_id(cursor):  # the cursor is the last id of a page
        raise InvalidInput("The cursor is not one this service handed out.", status=400)
    params = {"rows": limit + 1, "status": status, "cursor": cursor}
    return _PAGES[(status is not None, cursor is not None)], params


def run_list_json(
    settings: Settings, status: RunStatus | None, limit: int, cursor: str | None
) -> bytes:
    with read_session(settings.resolved_database_url) as session:
        # Core, not the ORM: plain rows, without the ORM's per-row loading machinery.
        result = session.connection().execute(*page_statement(status, limit, cursor))
        keys, rows = list(result.keys()), result.all()
    page, more = rows[:limit], len(rows) > limit
    # A namespace per row: run_fields reads ~25 attributes, and a Row's are slow to read.
    runs = [SimpleNamespace(**dict(zip(keys, row, strict=True))) for row in page]
    items = [_item(run) for run in runs]
    next_cursor = page[-1].id if more and page else None
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)


def _shaped(model: type[BaseModel]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What ``model`` makes of a stored dict: its fields, in order, defaults filled in."""
    fields = [
        (name, field.get_default(call_default_factory=True) if not field.is_required() else None)
        for name, field in model.model_fields.items()
    ]
    return lambda stored: {name: stored.get(name, default) for name, default in fields}


_problem, _export, _reproducibility = _shaped(Problem), _shaped(Export), _shaped(Reproducibility)


def _item(run: SimpleNamespace) -> dict[str, Any]:
    fields = run_fields(run, spec={}, seed=run.seed)
    fields["spec"] = _spec(run.spec_json)
    fields["warnings"] = [_problem(w) for w in run.warnings]
    if run.exports:
        fields["exports"] = {fmt: _export(e) for fmt, e in run.exports.items()}
    fields["reproducibility"] = _reproducibility(fields["reproducibility"])
    return fields


def _spec(text: str) -> Any:
    if _NOT_JSON[0] in text or _NOT_JSON[1] in text:
        return json.loads(text)
    return orjson.Fragment(text)
