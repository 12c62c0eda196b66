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


def test_list_items_show_every_stored_field_as_one_run_does(
    client: TestClient, settings: Settings
) -> None:
    """The list writes each run's fields without building a RunOut: every nested object must
    come out as the model gives it (defaults filled in, unknown keys dropped, NaN as null)."""
    run_id = finished_run(settings, "zero-vs-one", artifact=b"model bytes")
    sqlite = settings.resolved_database_url.startswith("sqlite")
    stored = {
        "warnings": [{"pointer": "/model/layers/0", "message": "no hint stored"}],
        "exports": {
            "onnx": {"status": "available", "sha256": "a" * 64, "bytes": 12, "kept": "no"},
            "tflite": {"status": "unavailable", "reason": "not requested"},
        },
        "reproducibility": {"tensorflow": "2.21.0", "jit_compile": True, "notes": ["why"]},
        # PostgreSQL's JSON refuses NaN; SQLite keeps what json.dumps writes.
        "last_metrics": {"loss": float("nan") if sqlite else None, "accuracy": 0.5},
        "early_stopping": {"monitor": "val_loss", "stopped_epoch": None},
    }
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(**stored))
    item = client.get("/v1/runs").json()["items"][0]
    assert item == client.get(f"/v1/runs/{run_id}").json()
    assert item["warnings"][0]["hint"] == "" and item["metrics"]["loss"] is None
    assert "kept" not in item["exports"]["onnx"] and item["exports"]["tflite"]["sha256"] is None
    assert item["reproducibility"]["notes"] == ["why"] and item["artifact"]["bytes"] == 11
