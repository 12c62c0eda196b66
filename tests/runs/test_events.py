"""Live progress over server-sent events, resumable with Last-Event-ID, across API restarts."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import LiveService, load_example, read_events

pytestmark = [pytest.mark.slow, BOTH_BACKENDS]


def test_stream_delivers_every_epoch_in_order_and_resumes(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, export_formats="")
    run_id = svc.submit(load_example("zero-vs-one", epochs=4))["id"]
    events = read_events(svc.http, run_id)

    ids = [event_id for event_id, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [d["epoch"] for _, kind, d in events if kind == "epoch"] == [1, 2, 3, 4]
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "done"
    assert [d["status"] for _, kind, d in events if kind == "status"] == [
        "queued",
        "running",
        "succeeded",
    ]

    # Resume after the second epoch: exactly the rest, no gaps, no repeats.
    second = next(i for i, kind, d in events if kind == "epoch" and d["epoch"] == 2)
    rest = read_events(svc.http, run_id, last_event_id=str(second))
    assert rest == [e for e in events if e[0] > second]

    # Resuming after `done` ends at once instead of idling forever.
    assert read_events(svc.http, run_id, last_event_id=str(ids[-1])) == []

    svc.stop(signal.SIGTERM)
    again = live(workers=0, data_dir=svc.data_dir)  # an API alone serves the stored events
    assert read_events(again.http, run_id, last_event_id=str(second)) == rest


def test_events_of_an_unknown_run_are_404(client: TestClient) -> None:
    resp = client.get("/v1/runs/nope/events")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
