"""TRAINSERVE_API_KEY: every route but health needs X-API-Key, compared against each key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"api_key": ["old-key", "new-key"]}))
    ) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/runs", "/v1/datasets", "/v1/models", "/v2/models/x"])
def test_missing_or_wrong_key_is_401_problem(secured: TestClient, path: str) -> None:
    for headers in ({}, {"X-API-Key": "guess"}):
        resp = secured.get(path, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        assert "X-API-Key" in resp.json()["detail"]


def test_any_configured_key_is_accepted(secured: TestClient) -> None:
    for key in ("old-key", "new-key"):
        assert secured.get("/v1/runs", headers={"X-API-Key": key}).status_code == 200


def test_health_routes_stay_open(secured: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready", "/metrics"):
        assert secured.get(path).status_code in (200, 503), path


def test_openapi_declares_the_key_so_swagger_and_postman_can_send_it(secured: TestClient) -> None:
    schema = secured.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "required when TRAINSERVE_API_KEY is set",
    }
    assert {"APIKeyHeader": []} in schema["paths"]["/v1/runs"]["post"]["security"]


def test_no_key_configured_means_open(client: TestClient) -> None:
    assert client.get("/v1/runs").status_code == 200


@pytest.mark.parametrize("path", ["/v1/runs/abc/predict", "/v1/models/prod/predict"])
def test_predictions_need_the_key_too(secured: TestClient, path: str) -> None:
    resp = secured.post(path, json={"instances": [[0] * 784]})
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    assert (
        secured.post(
            path, json={"instances": [[0] * 784]}, headers={"X-API-Key": "new-key"}
        ).status_code
        == 404
    )
