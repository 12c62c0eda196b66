"""POST /v1/runs/validate: the checks of POST /v1/runs, nothing stored (the editor's as-you-type)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.fixtures.live import ROOT


def example(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((ROOT / "models" / f"{name}.json").read_text())


def test_a_valid_spec_comes_back_normalised_with_its_warnings(client: TestClient) -> None:
    resp = client.post("/v1/runs/validate", json=example("zero-vs-one"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The layers as the client numbered them; the implicit flatten is shown apart.
    assert body["spec"]["model"]["flatten_input"] is True
    assert body["spec"]["model"]["layers"][0]["type"] == "dense"
    assert body["spec"]["training"]["loss"] == {"type": "binary_crossentropy", "from_logits": False}
    assert {w["pointer"] for w in body["warnings"]} == {
        "/model/layers/0/activation",
        "/model/layers/1/activation",
    }
    assert client.get("/v1/runs").json()["items"] == []


def test_every_problem_is_listed_with_its_pointer_and_nothing_is_queued(
    client: TestClient,
) -> None:
    spec = example("zero-vs-one")
    spec["model"]["layers"][0]["activation"] = "sigmoidd"
    spec["training"]["epochs"] = 0
    spec["training"]["seed"] = False  # JSON false is not a seed, whatever Python thinks
    resp = client.post("/v1/runs/validate", json=spec)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    pointers = {e["pointer"] for e in resp.json()["errors"]}
    assert pointers == {"/model/layers/0/activation", "/training/epochs", "/training/seed"}
    assert all(e["hint"] for e in resp.json()["errors"])
    # The same answer as POST /v1/runs, which must not have queued anything either.
    posted = client.post("/v1/runs", json=spec)
    assert posted.status_code == 422 and posted.json()["errors"] == resp.json()["errors"]
    assert client.get("/v1/runs").json()["items"] == []


def test_semantic_problems_come_from_the_same_checks_as_submitting(client: TestClient) -> None:
    spec = example("zero-vs-one")
    spec["model"]["layers"][-1]["units"] = 3  # two classes, three outputs
    resp = client.post("/v1/runs/validate", json=spec)
    assert resp.status_code == 422
    assert resp.json()["errors"] == client.post("/v1/runs", json=spec).json()["errors"]


def test_an_empty_idempotency_key_is_a_problem_not_a_500(client: TestClient) -> None:
    spec = example("zero-vs-one")
    for _ in range(2):
        resp = client.post("/v1/runs", json=spec, headers={"Idempotency-Key": ""})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["pointer"] == "/idempotency-key"


def test_examples_are_the_models_folder(client: TestClient) -> None:
    items = client.get("/v1/examples").json()["items"]
    assert {i["name"] for i in items} == {p.stem for p in (ROOT / "models").glob("*.json")}
    assert all(client.post("/v1/runs/validate", json=i["spec"]).status_code == 200 for i in items)
