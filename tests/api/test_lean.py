"""Prediction requests take app.api.lean's short way: every answer it gives must be the one the
full middleware stack gives (status, problem+json, headers), and be counted and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import limits
from app.enums import RunStatus
from app.main import create_app
from app.settings import Settings
from tests.fixtures.runs import finished_run

PIXELS = {"instances": [[0] * 784]}


@pytest.fixture
def secured(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_key": ["key"], "max_body_bytes": 4096})


@pytest.fixture
def both(secured: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    lean, full = create_app(secured), create_app(secured)
    full.lean_routes = ()  # the same app, with predictions through the whole stack
    with TestClient(lean) as a, TestClient(full) as b:
        yield a, b


def _chunks(total: int) -> Iterator[bytes]:  # a body without Content-Length
    for _ in range(total // 1024):
        yield b" " * 1024


JSON = {"content-type": "application/json"}
CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("no key", "run", {"json": PIXELS, "headers": {"x-api-key": "guess"}}, 401),
    ("unknown run", "missing", {"json": PIXELS}, 404),
    ("failed run", "failed", {"json": PIXELS}, 409),
    ("declared body too large", "run", {"content": b" " * 5000, "headers": JSON}, 413),
    ("streamed body too large", "run", {"content": "8 KiB in chunks", "headers": JSON}, 413),
    ("wrong media type", "run", {"content": b"x", "headers": {"content-type": "text/plain"}}, 415),
    ("unknown preprocess", "run", {"json": PIXELS, "params": {"preprocess": "x"}}, 422),
]


@pytest.mark.parametrize(("case", "target", "kwargs", "status"), CASES, ids=[c[0] for c in CASES])
def test_the_short_way_answers_as_the_full_stack(
    both, secured: Settings, case: str, target: str, kwargs: dict[str, Any], status: int
) -> None:
    ids = {
        "run": finished_run(secured),
        "failed": finished_run(secured, status=RunStatus.FAILED, failure_reason="boom"),
        "missing": "0" * 22,
    }
    answers = []
    for client in both:
        request = {**kwargs, "headers": {"x-api-key": "key", **kwargs.get("headers", {})}}
        if request.get("content") == "8 KiB in chunks":
            request["content"] = _chunks(8192)
        resp = client.post(f"/v1/runs/{ids[target]}/predict", **request)
        answers.append((resp.status_code, resp.headers.get("content-type"), resp.json()))
    assert answers[0][0] == status, answers[0]
    assert answers[0][1] == "application/problem+json"
    assert answers[0] == answers[1]


def test_a_prediction_over_its_time_limit_is_504_both_ways(both, secured, monkeypatch) -> None:
    monkeypatch.setattr(limits, "ROUTE_TIMEOUTS", [("POST", "/predict", 0.0)])
    run_id = finished_run(secured, artifact=b"not loaded: the limit passes first")
    for client in both:
        resp = client.post(f"/v1/runs/{run_id}/predict", json=PIXELS, headers={"x-api-key": "key"})
        assert resp.status_code == 504, resp.text
        assert "limit of 0 s" in resp.json()["detail"]


def test_predictions_are_counted_and_logged(both, secured, caplog) -> None:
    lean, _ = both
    route = "/v1/runs/{run_id}/predict"
    before = _count(lean, route, "404")
    with caplog.at_level(logging.INFO, logger="trainserve.access"):
        lean.post(f"/v1/runs/{'0' * 22}/predict", json=PIXELS, headers={"x-api-key": "key"})
    assert _count(lean, route, "404") == before + 1
    lines = [r for r in caplog.records if r.name == "trainserve.access"]
    assert [(r.method, r.status) for r in lines] == [("POST", 404)]  # type: ignore[attr-defined]


def _count(client: TestClient, route: str, status: str) -> float:
    text = client.get("/metrics", headers={"x-api-key": "key"}).text
    prefix = f'trainserve_http_requests_total{{method="POST",route="{route}",status="{status}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else 0.0
