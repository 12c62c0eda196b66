"""Ids and names that cannot exist are unknown (404) on every route that takes one, on both
databases: PostgreSQL answers a NUL byte in a query parameter with an error, not 'no rows'."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import load_example

pytestmark = BOTH_BACKENDS

ODD = ["a%00b", "%01", "x" * 300, "..%2F..%2Fetc"]
ROUTES = [
    ("GET", "/v1/runs/{}"),
    ("GET", "/v1/runs/{}/metrics"),
    ("GET", "/v1/runs/{}/events"),
    ("GET", "/v1/runs/{}/model"),
    ("POST", "/v1/runs/{}/cancel"),
    ("DELETE", "/v1/runs/{}"),
    ("POST", "/v1/runs/{}/predict"),
    ("GET", "/v1/models/{}"),
    ("DELETE", "/v1/models/{}"),
    ("POST", "/v1/models/{}/predict"),
    ("GET", "/v2/models/{}"),
    ("GET", "/v2/models/{}/ready"),
    ("POST", "/v2/models/{}/infer"),
]


@pytest.mark.parametrize("odd", ODD)
def test_odd_ids_are_unknown_everywhere(client: TestClient, odd: str) -> None:
    for method, route in ROUTES:
        resp = client.request(method, route.format(odd), json={"instances": [[0] * 784]})
        assert resp.status_code == 404, (method, route, resp.status_code, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"


def test_odd_ids_in_bodies_and_queries(client: TestClient) -> None:
    assert client.put("/v1/models/prod", json={"run_id": "a\x00b"}).status_code == 404
    compare = client.get("/v1/runs/compare", params={"ids": ["a\x00b", "c\x01"]})
    assert compare.status_code == 404
    assert client.get("/v1/runs", params={"cursor": "a\x00"}).status_code == 400


def test_a_run_name_with_control_characters_is_refused(client: TestClient) -> None:
    spec = load_example("zero-vs-one")
    spec["name"] = "zero\x00one"
    resp = client.post("/v1/runs", json=spec)
    assert resp.status_code == 422
    (error,) = resp.json()["errors"]
    assert error["pointer"] == "/name" and "control characters" in error["hint"]
    assert client.get("/v1/runs").json()["items"] == []  # nothing half-created
