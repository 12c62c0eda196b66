"""Logs as operators read them: one JSON line per request and per run state change."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest

from app.logs import BatchedHandler, JsonFormatter
from tests.fixtures.live import LiveService, load_example


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_requests_and_run_changes_are_json_lines(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, export_formats="")
    run_id = svc.submit(load_example("zero-vs-one", epochs=1))["id"]
    assert svc.wait_for(run_id)["status"] == "succeeded"
    svc.http.get("/v1/runs/0000000000000000000000")
    svc.stop()  # the API writes its lines from a thread; stopping must flush them all

    lines = json_lines(svc.logs())
    url = f"http://127.0.0.1:{svc.port}"
    started = [e["message"] for e in lines if "listening on" in e["message"]]
    assert started == [
        f"trainserve listening on {url} (API docs at {url}/docs), 1 training worker(s)"
    ]
    access = [e for e in lines if e["logger"] == "trainserve.access"]
    missing = [e for e in access if e["path"] == "/v1/runs/0000000000000000000000"]
    assert missing and missing[0]["status"] == 404 and missing[0]["method"] == "GET"
    assert all(isinstance(e["duration_ms"], float | int) and e["time"] for e in access)
    posted = [e for e in access if e["path"] == "/v1/runs" and e["method"] == "POST"]
    assert posted and posted[0]["status"] == 202
    states = [e["message"] for e in lines if e.get("run_id") == run_id]
    assert any("running" in m for m in states) and any("succeeded" in m for m in states), states


def batched(interval: float) -> tuple[BatchedHandler, io.StringIO]:
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(JsonFormatter())
    return BatchedHandler(target, interval=interval), out


def test_batched_lines_are_all_written_on_close_in_order() -> None:
    handler, out = batched(interval=60)  # nothing is written before close()
    log = logging.getLogger("trainserve.test-batched")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(500):
            log.warning("line %d", i, extra={"status": i})
        assert out.getvalue() == ""
    finally:
        log.removeHandler(handler)
        handler.close()
    assert [e["status"] for e in json_lines(out.getvalue())] == list(range(500))


def test_an_exception_keeps_its_traceback() -> None:
    handler, out = batched(interval=0.01)
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "trainserve", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    handler.handle(record)
    handler.close()
    (entry,) = json_lines(out.getvalue())
    assert entry["message"] == "failed x" and entry["level"] == "error"
    assert "ValueError: boom" in entry["exception"]


def test_a_closed_handler_still_writes_what_it_is_given() -> None:
    """logging.config calls close every handler; lines logged after that must not vanish."""
    handler, out = batched(interval=60)
    handler.close()
    handler.handle(logging.LogRecord("trainserve", logging.INFO, __file__, 1, "late", (), None))
    assert [e["message"] for e in json_lines(out.getvalue())] == ["late"]
