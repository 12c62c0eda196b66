"""The run list passes each spec through as stored (app/runs/listing.py): its items must be
exactly what GET /v1/runs/{id} answers for each run, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db.session import get_engine
from app.db.tables import Run
from app.enums import RunStatus
from app.settings import Settings
from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.runs import finished_run

pytestmark = BOTH_BACKENDS


def test_list_items_are_the_runs_as_shown_one_by_one(
    client: TestClient, settings: Settings
) -> None:
    ids = [
        finished_run(settings, "zero-vs-one"),
        finished_run(settings, "digits-regression", status=RunStatus.FAILED),
        finished_run(settings, "zero-vs-one", status=RunStatus.RUNNING),
    ]
    # Text a stored spec may hold that a naive splice could garble: non-ASCII, quotes, and the
    # letters of NaN (the standard library writes NaN unquoted; such specs are re-encoded).
    with get_engine(settings.resolved_database_url).begin() as conn:
        spec = conn.execute(Run.__table__.select().where(Run.id == ids[0])).one().spec
        spec["dataset"]["label_names"] = ['zéro "0"', "NaN"]
        conn.execute(update(Run).where(Run.id == ids[0]).values(spec=spec))
    listed = client.get("/v1/runs").json()
    assert [item["id"] for item in listed["items"]] == sorted(ids, reverse=True)
    for item in listed["items"]:
        assert item == client.get(f"/v1/runs/{item['id']}").json()
    page = client.get("/v1/runs", params={"limit": 2}).json()
    rest = client.get("/v1/runs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert page["items"] + rest["items"] == listed["items"] and rest["next_cursor"] is None
    succeeded = client.get("/v1/runs", params={"status": "succeeded"}).json()["items"]
    assert [item["id"] for item in succeeded] == [ids[0]]
