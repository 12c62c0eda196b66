"""ModelLookup: what a prediction request means, read fresh from the database every time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.db.session import write_session
from app.db.tables import Run
from app.errors import Conflict, NotFound
from app.inference.resolve import ModelLookup, Target
from app.runs.names import delete_name, set_name
from app.runs.service import create_run
from app.runs.spec import RunSpec
from app.settings import Settings
from tests.fixtures.databases import BOTH_BACKENDS

ROOT = Path(__file__).resolve().parents[2]


def _run(settings: Settings, status: str, sha: str | None = "ab" * 32) -> str:
    spec = RunSpec.model_validate(json.loads((ROOT / "models" / "zero-vs-one.json").read_text()))
    run, _ = create_run(settings, spec)
    with write_session(settings.resolved_database_url) as session:
        row = session.get_one(Run, run.id)
        row.status, row.artifact_sha256 = status, sha
    return run.id


@BOTH_BACKENDS
def test_runs_and_names_resolve_to_what_the_database_says_now(settings: Settings) -> None:
    lookup = ModelLookup(settings.resolved_database_url)
    try:
        first, second = (
            _run(settings, "succeeded", "aa" * 32),
            _run(settings, "succeeded", "bb" * 32),
        )
        assert lookup.by_run(first) == Target(first, "zero-vs-one", "aa" * 32)
        set_name(settings, "prod", first)
        assert lookup.by_name("prod") == Target(first, "prod", "aa" * 32)
        # Another connection repoints the name: the very next lookup follows it.
        set_name(settings, "prod", second)
        assert lookup.by_name("prod").run_id == second
        assert lookup.by_name_or_run(first).run_id == first
        delete_name(settings, "prod")
        with pytest.raises(NotFound, match="No model named 'prod'"):
            lookup.by_name("prod")
        with pytest.raises(NotFound, match="no run with that id"):
            lookup.by_name_or_run("nope")
        # Answers may be kept between requests (SQLite), never past another's commit.
        assert lookup.by_run(second).run_id == second
        with write_session(settings.resolved_database_url) as session:
            session.delete(session.get_one(Run, second))
        with pytest.raises(NotFound):
            lookup.by_run(second)
    finally:
        lookup.close()


@BOTH_BACKENDS
def test_unfinished_runs_are_a_conflict(settings: Settings) -> None:
    lookup = ModelLookup(settings.resolved_database_url)
    try:
        running = _run(settings, "running", None)
        with pytest.raises(Conflict, match="is running"):
            lookup.by_run(running)
    finally:
        lookup.close()


def test_a_closed_lookup_reconnects(settings: Settings) -> None:
    lookup = ModelLookup(settings.resolved_database_url)
    run_id = _run(settings, "succeeded")
    assert lookup.by_run(run_id).run_id == run_id
    lookup.close()
    assert lookup.by_run(run_id).run_id == run_id
    lookup.close()
