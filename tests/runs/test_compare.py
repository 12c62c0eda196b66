"""Comparing runs: spec differences by JSON pointer, and the compare route's answers and errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.runs.compare import spec_differences
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from tests.fixtures.live import load_example
from tests.fixtures.runs import finished_run


def normalised(name: str, settings: Settings) -> dict[str, Any]:
    spec, _ = check_spec(RunSpec.model_validate(load_example(name)), settings)
    return spec.model_dump(mode="json")


def test_softmax_against_logits_differs_where_the_lesson_is(settings: Settings) -> None:
    softmax, logits = normalised("digits-softmax", settings), normalised("digits-logits", settings)
    diff = {d["pointer"]: d["values"] for d in spec_differences([softmax, logits])}
    assert diff["/model/layers/2/activation"] == ["softmax", "linear"]  # the user's numbering
    assert diff["/training/loss/from_logits"] == [False, True]
    assert "/dataset/name" not in diff and "/model/layers/0/type" not in diff


def test_absent_keys_are_null_and_pointers_are_escaped() -> None:
    a = {"model": {"layers": [{"type": "dense"}]}, "x/y": 1, "classes": [0, 1]}
    b = {
        "model": {"layers": [{"type": "dense"}, {"type": "dropout", "rate": 0.5}]},
        "x/y": 2,
        "classes": [3, 8],
    }
    assert spec_differences([a, b]) == [
        {"pointer": "/x~1y", "values": [1, 2]},
        {"pointer": "/classes", "values": [[0, 1], [3, 8]]},  # lists of labels stay whole
        {"pointer": "/model/layers/1/type", "values": [None, "dropout"]},
        {"pointer": "/model/layers/1/rate", "values": [None, 0.5]},
    ]
    assert spec_differences([a, a]) == []


def _submit(client: TestClient, name: str, **training: object) -> str:
    resp = client.post("/v1/runs", json=load_example(name, **training))
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_compare_answers_in_the_order_asked(client: TestClient) -> None:
    slow, fast = _submit(client, "zero-vs-one", epochs=9), _submit(client, "zero-vs-one", epochs=3)
    resp = client.get("/v1/runs/compare", params={"ids": [fast, slow]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [r["id"] for r in body["runs"]] == [fast, slow]
    assert body["spec_differences"] == [{"pointer": "/training/epochs", "values": [3, 9]}]
    assert body["runs"][0]["progress"] == {"epoch": 0, "epochs": 3}
    assert body["runs"][0]["test"] is None and body["runs"][0]["train_seconds"] == 0
    assert body["best"] == {"test_accuracy": None, "test_loss": None}  # nothing has finished
    assert body["warnings"] == []
    # Comma-separated ids, and a repeated id counted once.
    same = client.get("/v1/runs/compare", params={"ids": f"{fast},{slow},{fast}"}).json()
    assert [r["id"] for r in same["runs"]] == [fast, slow]


def test_runs_on_other_data_are_flagged(client: TestClient) -> None:
    mnist = _submit(client, "digits-softmax")
    spec = load_example("digits-softmax")
    spec["dataset"] = {"name": "digits"}
    digits = client.post("/v1/runs", json=spec).json()["id"]
    warnings = client.get("/v1/runs/compare", params={"ids": [mnist, digits]}).json()["warnings"]
    assert [w["pointer"] for w in warnings] == ["/dataset/name"]
    assert "different test sets" in warnings[0]["message"]


def test_bad_compare_requests_are_problems(client: TestClient) -> None:
    known = _submit(client, "zero-vs-one")
    one = client.get("/v1/runs/compare", params={"ids": known})
    assert one.status_code == 422 and one.headers["content-type"] == "application/problem+json"
    assert (
        one.json()["errors"][0]["pointer"] == "/ids" and "?ids=" in one.json()["errors"][0]["hint"]
    )
    assert client.get("/v1/runs/compare").status_code == 422
    many = client.get(
        "/v1/runs/compare", params={"ids": [known] + [f"{i:022x}" for i in range(10)]}
    )
    assert many.status_code == 422
    unknown = client.get("/v1/runs/compare", params={"ids": [known, "nope"]})
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]


def test_a_best_run_is_named_only_among_comparable_runs(
    client: TestClient, settings: Settings
) -> None:
    on_digits = load_example("zero-vs-one")
    on_digits["dataset"]["name"] = "digits"
    better = finished_run(settings, "zero-vs-one", losses=[0.5, 0.1])
    worse = finished_run(settings, "zero-vs-one", losses=[0.5, 0.3])
    elsewhere = finished_run(settings, on_digits, losses=[0.5, 0.01])

    same = client.get("/v1/runs/compare", params={"ids": [worse, better]}).json()
    assert same["best"] == {"test_accuracy": better, "test_loss": better}
    mixed = client.get("/v1/runs/compare", params={"ids": [worse, better, elsewhere]}).json()
    assert [w["pointer"] for w in mixed["warnings"]] == ["/dataset/name"]
    assert mixed["best"] == {"test_accuracy": None, "test_loss": None}
