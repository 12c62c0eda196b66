"""Body size and per-route time limits answer with problem+json, configured in app/limits.py."""

from __future__ import annotations

import anyio
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import limits
from app.limits import RouteTimeouts, timeout_for


def test_streams_have_no_limit_and_other_routes_do() -> None:
    assert timeout_for("GET", "/v1/runs/abc/events") is None
    assert timeout_for("GET", "/v1/runs/abc/model") is None
    assert timeout_for("POST", "/v1/runs/abc/predict") == 30.0
    assert timeout_for("GET", "/v1/runs") == limits.DEFAULT_TIMEOUT


def test_a_handler_over_its_limit_gets_a_504_problem(monkeypatch) -> None:
    monkeypatch.setattr(limits, "DEFAULT_TIMEOUT", 0.2)

    async def slow(_: Request) -> JSONResponse:
        await anyio.sleep(5)
        return JSONResponse({})

    app = RouteTimeouts(Starlette(routes=[Route("/slow", slow)]))
    resp = TestClient(app).get("/slow")
    assert resp.status_code == 504
    assert resp.headers["content-type"] == "application/problem+json"
    assert "limit of 0.2 s" in resp.json()["detail"]


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    big = b"x" * (client.app.state.settings.max_body_bytes + 1)
    resp = client.post("/v1/runs", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
