"""Mistakes in a run spec: each is a 422 problem+json whose pointer names the user's own field.

Every case goes through POST /v1/runs exactly as a client would send it, and checks that the
answer points at the offending field, says how to fix it, and that nothing was queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.runs.spec_mistakes import CASES, Spec, binary_spec, conv_spec, digits_spec, edit, layers


def post(client: TestClient, body: Any) -> Any:
    return client.post("/v1/runs", json=body)


def assert_problem(resp: Any, status: int = 422) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def assert_nothing_queued(client: TestClient) -> None:
    listing = client.get("/v1/runs")
    assert listing.status_code == 200
    assert listing.json()["items"] == []


def entry_at(body: dict[str, Any], pointer: str) -> dict[str, Any]:
    matches = [e for e in body.get("errors", []) if e["pointer"] == pointer]
    assert matches, f"no error at {pointer!r}; got {[e['pointer'] for e in body.get('errors', [])]}"
    return matches[0]


def test_base_specs_are_valid(client: TestClient) -> None:
    """Guard: every case below differs from an accepted spec by exactly its one mistake."""
    for make in (binary_spec, digits_spec, conv_spec):
        assert post(client, make()).status_code == 202, make()


@pytest.mark.parametrize(("spec", "pointer"), [pytest.param(s, p, id=i) for i, s, p in CASES])
def test_mistake_is_422_at_its_pointer(client: TestClient, spec: Spec, pointer: str) -> None:
    body = assert_problem(post(client, spec))
    entry = entry_at(body, pointer)
    assert entry["message"].strip()
    assert entry["hint"].strip(), f"empty hint for {pointer}: {entry}"
    # The detail counts what the list holds.
    n = len(body["errors"])
    assert f"{n} problem" in body["detail"]
    assert_nothing_queued(client)


def test_hint_names_the_allowed_layer_types(client: TestClient) -> None:
    spec = edit(binary_spec, lambda s: layers(s)[0].pop("type"))
    entry = entry_at(assert_problem(post(client, spec)), "/model/layers/0/type")
    for name in ("dense", "conv2d", "max_pool2d", "flatten", "dropout"):
        assert name in entry["hint"]


def test_caps_follow_the_settings(client: TestClient, settings: Any) -> None:
    at_cap = edit(binary_spec, lambda s: s["training"].update(epochs=settings.max_epochs))
    assert post(client, at_cap).status_code == 202
    over = edit(binary_spec, lambda s: s["training"].update(epochs=settings.max_epochs + 1))
    entry = entry_at(assert_problem(post(client, over)), "/training/epochs")
    assert str(settings.max_epochs) in entry["hint"]


def test_several_schema_mistakes_come_in_one_answer(client: TestClient) -> None:
    spec = binary_spec()
    layers(spec)[2]["activation"] = "gelu"
    layers(spec)[0]["units"] = 0
    spec["training"]["epochs"] = 0
    spec["training"]["optimizer"]["type"] = "adamw"
    spec["colour"] = "blue"
    body = assert_problem(post(client, spec))
    pointers = {e["pointer"] for e in body["errors"]}
    assert pointers == {
        "/model/layers/2/activation",
        "/model/layers/0/units",
        "/training/epochs",
        "/training/optimizer/type",
        "/colour",
    }
    assert all(e["hint"] for e in body["errors"])
    assert "5 problems" in body["detail"]
    assert_nothing_queued(client)


def test_several_semantic_mistakes_come_in_one_answer(client: TestClient) -> None:
    spec = digits_spec()
    spec["dataset"]["classes"] = [0, 1, 2]
    layers(spec)[1]["units"] = 4
    spec["training"]["loss"] = {"type": "sparse_categorical_crossentropy", "from_logits": True}
    spec["training"]["epochs"] = 10_000
    body = assert_problem(post(client, spec))
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/model/layers/1/units", "/training/loss/from_logits", "/training/epochs"} <= pointers
    assert all(e["hint"] for e in body["errors"])
    assert_nothing_queued(client)


def test_bad_class_does_not_hide_layer_mistakes(client: TestClient) -> None:
    """An unknown class and a broken layer stack are reported together, not one per round trip."""
    spec = conv_spec()
    spec["dataset"]["classes"] = [0, 11]
    layers(spec)[0]["kernel_size"] = 9
    spec["training"]["epochs"] = 501
    body = assert_problem(post(client, spec))
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/dataset/classes/1", "/model/layers/0/kernel_size", "/training/epochs"} <= pointers
    assert_nothing_queued(client)


def test_one_layer_numbering_the_users_with_the_flatten_shown_apart(
    client: TestClient,
) -> None:
    # Accepted, the normalised spec shows the flatten in front of the dense layers apart from
    # them (flatten_input), so its layers are numbered exactly as the user sent them.
    ok = post(client, digits_spec())
    assert ok.status_code == 202
    normalised = ok.json()["spec"]["model"]
    sent = digits_spec()["model"]["layers"]
    assert [(x["type"], x["units"]) for x in normalised["layers"]] == [
        (x["type"], x["units"]) for x in sent
    ]
    assert normalised["flatten_input"] is True and normalised["input_shape"] == [8, 8]

    # Rejected, the pointers count layers the same way.
    spec = digits_spec()
    layers(spec)[1]["units"] = 3
    entry = entry_at(assert_problem(post(client, spec)), "/model/layers/1/units")
    assert "3 units" in entry["message"]

    spec = digits_spec()  # dense, conv2d, flatten, dense: the conv2d is the user's layer 1
    layers(spec)[1:1] = [{"type": "conv2d", "filters": 2}, {"type": "flatten"}]
    body = assert_problem(post(client, spec))
    assert [e["pointer"] for e in body["errors"]] == ["/model/layers/1"]

    spec = digits_spec()  # a sigmoid output with sparse CE warns; with an extra mistake it errors
    layers(spec).insert(1, {"type": "dense", "units": 8, "activation": "gelu"})
    body = assert_problem(post(client, spec))
    assert [e["pointer"] for e in body["errors"]] == ["/model/layers/1/activation"]
    # Only the one accepted run above exists.
    assert len(client.get("/v1/runs").json()["items"]) == 1


def test_conv_first_model_keeps_its_indices(client: TestClient) -> None:
    spec = conv_spec()
    layers(spec)[3]["units"] = 9
    body = assert_problem(post(client, spec))
    assert [e["pointer"] for e in body["errors"]] == ["/model/layers/3/units"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="garbage"),
        pytest.param(b'{"dataset": {"name": "digits"},', id="truncated"),
    ],
)
def test_body_that_is_not_json_is_a_422_problem(client: TestClient, content: bytes) -> None:
    resp = client.post("/v1/runs", content=content, headers={"content-type": "application/json"})
    body = assert_problem(resp)
    assert body["errors"] and all(e["hint"] for e in body["errors"])
    assert "JSON" in body["errors"][0]["message"]
    assert_nothing_queued(client)


def test_body_that_is_not_utf8_is_a_client_error_problem(client: TestClient) -> None:
    # FastAPI rejects undecodable bytes itself with a 400; what matters is a 4xx problem, not a 500.
    resp = client.post(
        "/v1/runs", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}
    )
    assert resp.status_code in (400, 422)
    assert_problem(resp, resp.status_code)
    assert_nothing_queued(client)


def test_json_that_is_not_an_object_is_a_422_problem(client: TestClient) -> None:
    body = assert_problem(post(client, [binary_spec()]))
    assert body["errors"][0]["pointer"] == ""
    assert body["errors"][0]["hint"]
    assert_nothing_queued(client)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"content-type": "application/json"}, id="json-content-type"),
        pytest.param({}, id="no-content-type"),
    ],
)
def test_empty_body_is_a_422_problem(client: TestClient, headers: dict[str, str]) -> None:
    body = assert_problem(client.post("/v1/runs", content=b"", headers=headers))
    entry = body["errors"][0]
    assert entry["pointer"] == ""
    assert "empty" in entry["message"].lower()
    assert entry["hint"]
    assert_nothing_queued(client)


def test_schema_and_semantic_problems_come_in_one_answer(client: TestClient) -> None:
    spec = binary_spec()
    layers(spec)[0]["units"] = -3  # schema: out of range
    spec["dataset"]["classes"] = [0, 11]  # semantic: mnist-5k has no class 11
    spec["training"]["batch_size"] = "32"  # schema: a string is not silently a number
    body = assert_problem(post(client, spec))
    assert [e["pointer"] for e in body["errors"]] == [
        "/model/layers/0/units",
        "/training/batch_size",
        "/dataset/classes/1",
    ]
    assert body["type"] == "/problems/invalid-spec"
    assert entry_at(body, "/training/batch_size")["hint"] == "write the number without quotes: 32"
    assert_nothing_queued(client)


@pytest.mark.parametrize(
    ("mistake", "pointer", "meant"),
    [
        (
            lambda s: layers(s)[0].update(activaton=layers(s)[0].pop("activation")),
            "/model/layers/0/activaton",
            "activation",
        ),
        (
            lambda s: s["training"].update(bach_size=s["training"].pop("batch_size")),
            "/training/bach_size",
            "batch_size",
        ),
        (lambda s: layers(s)[1].update(activation="reul"), "/model/layers/1/activation", "relu"),
        (lambda s: layers(s)[1].update(type="dens"), "/model/layers/1/type", "dense"),
        (
            lambda s: s["training"]["optimizer"].update(type="adamm"),
            "/training/optimizer/type",
            "adam",
        ),
        (lambda s: s["dataset"].update(name="mnist5k"), "/dataset/name", "mnist-5k"),
    ],
    ids=["field", "training-field", "activation", "layer-type", "optimizer", "dataset"],
)
def test_a_misspelling_gets_a_did_you_mean_hint(
    client: TestClient, mistake: Callable[[Spec], Any], pointer: str, meant: str
) -> None:
    spec = binary_spec()
    mistake(spec)
    entry = entry_at(assert_problem(post(client, spec)), pointer)
    assert entry["hint"].startswith(f'did you mean "{meant}"?'), entry


def test_a_spec_that_is_not_an_object_is_one_problem(client: TestClient) -> None:
    body = assert_problem(post(client, [binary_spec()]))
    assert [e["pointer"] for e in body["errors"]] == [""]
