"""The web page at /: served to anyone, and it only calls routes the API really has."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

# call("POST", `/v1/runs/${selected.id}/predict`, form) -> ("POST", "/v1/runs/{}/predict")
CALL = re.compile(r'call\("(GET|POST|PUT|DELETE)", [`"]([^`"?]+)')


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_key": ["k"]}))) as c:
        yield c


def test_the_page_needs_no_key_but_its_calls_do(secured: TestClient) -> None:
    page = secured.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in page.text and "X-API-Key" in page.text
    assert secured.get("/v1/runs").status_code == 401


def test_every_call_the_page_makes_is_a_route_of_the_api(client: TestClient) -> None:
    calls = {(m, re.sub(r"\$\{[^}]+\}", "{}", p)) for m, p in CALL.findall(client.get("/").text)}
    assert {("GET", "/v1/runs"), ("POST", "/v1/runs"), ("POST", "/v1/runs/{}/predict"),
            ("POST", "/v1/runs/{}/cancel"), ("GET", "/v1/runs/compare")} <= calls
    schema = client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
              for path, ops in schema.items() for method in ops}
    assert calls <= routes, calls - routes
    # The page uploads its drawing as the multipart part the predict route reads.
    assert 'form.append("file"' in client.get("/").text
