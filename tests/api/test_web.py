"""The dashboard's files: served to anyone, from the package, calling only real routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

# call("POST", `/v1/runs/${id}/predict?include=input`, form) -> ("POST", "/v1/runs/{}/predict")
CALL = re.compile(r'\b(?:call|send|act|action)\("(GET|POST|PUT|DELETE)", [`"]([^`"?]+)')
STATIC = files("app.web").joinpath("static")


def scripts() -> dict[str, str]:
    js = STATIC.joinpath("js")
    found = {f"js/{p.name}": p.read_text() for p in js.iterdir() if p.name.endswith(".js")}
    pages = js.joinpath("pages")
    found |= {
        f"js/pages/{p.name}": p.read_text() for p in pages.iterdir() if p.name.endswith(".js")
    }
    return found


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_key": ["k"]}))) as c:
        yield c


def test_the_pages_and_docs_need_no_key_but_the_api_does(secured: TestClient) -> None:
    page = secured.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/static/js/app.js"' in page.text
    for name in scripts():
        assert secured.get(f"/static/{name}").status_code == 200, name
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert secured.get(path).status_code == 200
    assert secured.get("/v1/runs").status_code == 401


def test_docs_load_swagger_ui_and_redoc_from_this_service_not_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    for licence in ("uplot/LICENSE", "swagger-ui/LICENSE", "redoc/LICENSE"):
        assert client.get(f"/static/vendor/{licence}").status_code == 200


def test_every_call_the_pages_make_is_a_route_of_the_api(client: TestClient) -> None:
    calls = {
        (m, re.sub(r"\$\{[^}]+\}", "{}", p))
        for text in scripts().values()
        for m, p in CALL.findall(text)
        if not p.startswith("${")  # predict's path is built from a variable: checked below
    }
    assert {
        ("GET", "/v1/runs"),
        ("POST", "/v1/runs"),
        ("POST", "/v1/runs/validate"),
        ("GET", "/v1/runs/{}/errors"),
        ("GET", "/v1/runs/{}/metrics"),
        ("POST", "/v1/runs/{}/cancel"),
        ("GET", "/v1/runs/compare"),
        ("GET", "/v1/examples"),
    } <= calls
    schema = client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, ops in schema.items()
        for method in ops
    }
    assert {("POST", "/v1/runs/{}/predict"), ("POST", "/v1/models/{}/predict")} <= routes
    assert calls <= routes, calls - routes


def test_a_missing_static_file_is_a_404_problem(client: TestClient) -> None:
    resp = client.get("/static/js/nope.js")
    assert resp.status_code == 404
