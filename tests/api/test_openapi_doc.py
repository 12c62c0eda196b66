"""What /openapi.json says about answers added outside the routes (key check, body limit,
body parser, 405s), checked against what the server does."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


def test_401_and_the_key_header_are_documented_only_when_keys_are_set(
    client: TestClient, settings: Settings
) -> None:
    open_doc = client.get("/openapi.json").json()
    assert "securitySchemes" not in open_doc["components"]
    assert all(
        "security" not in op and "401" not in op["responses"]
        for ops in open_doc["paths"].values()
        for op in ops.values()
    )
    with TestClient(create_app(settings.model_copy(update={"api_key": ["k"]}))) as keyed:
        doc = keyed.get("/openapi.json").json()
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                public = path in ("/healthz", "/readyz", "/metrics") or path.startswith(
                    "/v2/health"
                )
                assert ("401" in op["responses"]) is not public, (method, path)
        assert keyed.get("/v1/runs").status_code == 401


def test_every_error_answer_is_documented_as_problem_json(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                if status[0] in "45":
                    assert list(answer["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(op["responses"]), (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    # The run object's warnings keep their own schema next to the problem document's.
    assert "pointer" in doc["components"]["schemas"]["Problem"]["properties"]
    assert "detail" in doc["components"]["schemas"]["ProblemDetails"]["properties"]


def test_compare_declares_what_it_enforces(client: TestClient) -> None:
    param = client.get("/openapi.json").json()["paths"]["/v1/runs/compare"]["get"]["parameters"]
    ids = next(p for p in param if p["name"] == "ids")
    assert ids["required"] is True
    assert (ids["schema"]["minItems"], ids["schema"]["maxItems"]) == (2, 10)
    assert client.get("/v1/runs/compare").status_code == 422


def test_a_405_allows_exactly_the_documented_methods(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()["paths"]
    for path, concrete in [
        ("/v1/runs/{run_id}", "/v1/runs/0123"),
        ("/v1/runs/compare", "/v1/runs/compare"),
        ("/v1/runs/validate", "/v1/runs/validate"),
        ("/v1/models/{name}", "/v1/models/prod"),
    ]:
        resp = client.request("PATCH", concrete)
        assert resp.status_code == 405
        assert resp.headers["allow"] == ", ".join(sorted(m.upper() for m in doc[path])), path


def _name_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    (param,) = [p for p in doc["paths"][path][method]["parameters"] if p["name"] == "name"]
    return dict(param["schema"])


def _declared_valid(schema: dict[str, Any], value: str) -> bool:
    """The JSON Schema string rules these schemas use (pattern, not), as ECMA-262 reads
    them: `$` is the end of the text, never before a trailing newline."""
    matches = re.search(schema["pattern"].replace("$", r"\Z"), value) is not None
    return matches and not ("not" in schema and _declared_valid(schema["not"], value))


NAMES = ["digitz", "a", "A.b_c-9", "x" * 100, "x" * 101, "0123456789abcdef012345",
         "0123456789ABCDEF012345", "-lead", ".hidden", "bad name", "trail\n", "é", "",
         "mnist-5k@2", "a@0", "a@1234567890", "a@", "@3", "a@1@2"]  # fmt: skip


def test_name_parameters_declare_the_rule_the_server_enforces(client: TestClient) -> None:
    """A name the document calls valid is never refused as malformed (it may be unknown: 404,
    or a built-in: 409); one it calls invalid is refused: 422, or 404 from a lookup, which
    answers for a string that cannot be a name without asking the database."""
    doc = client.get("/openapi.json").json()
    cases = [
        ("/v1/models/{name}", "put", lambda n: client.put(f"/v1/models/{quote(n)}", json={"run_id": "0" * 22})),
        ("/v1/models/{name}", "get", lambda n: client.get(f"/v1/models/{quote(n)}")),
        ("/v1/datasets/{name}", "get", lambda n: client.get(f"/v1/datasets/{quote(n)}")),
        ("/v1/datasets/{name}", "delete", lambda n: client.delete(f"/v1/datasets/{quote(n)}")),
        ("/v1/datasets/{name}/preview.png", "get", lambda n: client.get(f"/v1/datasets/{quote(n)}/preview.png")),
    ]  # fmt: skip
    for path, method, call in cases:
        schema = _name_schema(doc, path, method)
        for name in NAMES:
            if not name:
                continue  # an empty path segment is another route
            status = call(name).status_code
            expected = {200, 404, 409} if _declared_valid(schema, name) else {404, 422}
            assert status in expected, (method, path, name, status)
    assert client.put("/v1/models/trail%0A", json={"run_id": "0" * 22}).status_code == 422


def test_a_model_name_body_names_exactly_one_target(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert len(doc["components"]["schemas"]["ModelNameIn"]["oneOf"]) == 2
    for body in ({}, {"run_id": None}, {"run_id": "0" * 22, "sweep_id": "0" * 22}):
        assert client.put("/v1/models/prod", json=body).status_code == 422, body
    assert client.put("/v1/models/prod", json={"run_id": "0" * 22}).status_code == 404
