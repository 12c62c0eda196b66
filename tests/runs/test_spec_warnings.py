"""Specs that train but probably not the way the user hopes: accepted (202) with warnings."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

Spec = dict[str, Any]


def clean_spec() -> Spec:
    """The textbook setup: relu hidden layers, softmax output, sparse categorical cross-entropy."""
    return {
        "name": "digits-clean",
        "dataset": {"name": "mnist-5k"},
        "model": {
            "layers": [
                {"type": "dense", "units": 64, "activation": "relu"},
                {"type": "dense", "units": 32, "activation": "relu"},
                {"type": "dense", "units": 10, "activation": "softmax"},
            ]
        },
        "training": {
            "optimizer": {"type": "adam", "learning_rate": 0.001},
            "loss": {"type": "sparse_categorical_crossentropy"},
            "epochs": 3,
        },
    }


def with_changes(**paths: Any) -> Spec:
    """clean_spec with values set at ``__``-separated paths, e.g. ``model__layers__1__activation``."""
    spec = copy.deepcopy(clean_spec())
    for key, value in paths.items():
        *parents, leaf = key.split("__")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return spec


def accept(client: TestClient, spec: Spec) -> dict[str, Any]:
    resp = client.post("/v1/runs", json=spec)
    assert resp.status_code == 202, resp.text
    run = resp.json()
    assert resp.headers["location"] == f"/v1/runs/{run['id']}"
    assert run["status"] == "queued"
    for w in run["warnings"]:  # the same shape as errors
        assert set(w) == {"pointer", "message", "hint"}
        assert w["pointer"].startswith("/") and w["message"] and w["hint"]
    return run


def warning_at(run: dict[str, Any], pointer: str) -> dict[str, Any]:
    found = [w for w in run["warnings"] if w["pointer"] == pointer]
    assert found, f"no warning at {pointer!r}; got {run['warnings']}"
    return found[0]


def test_clean_spec_has_no_warnings(client: TestClient) -> None:
    run = accept(client, clean_spec())
    assert run["warnings"] == []


@pytest.mark.parametrize(
    ("spec", "pointer", "words"),
    [
        pytest.param(
            with_changes(model__layers__0__activation="linear"),
            "/model/layers/0/activation",
            ["linear"],
            id="linear-hidden-layer",
        ),
        pytest.param(
            with_changes(model__layers__1__activation="sigmoid"),
            "/model/layers/1/activation",
            ["sigmoid"],
            id="sigmoid-hidden-layer",
        ),
        pytest.param(
            with_changes(model__layers__0__activation="softmax"),
            "/model/layers/0/activation",
            ["softmax"],
            id="softmax-hidden-layer",
        ),
        pytest.param(
            with_changes(model__layers__2__activation="sigmoid"),
            "/model/layers/2/activation",
            ["sum"],
            id="sigmoid-output-with-sparse-ce",
        ),
        pytest.param(
            with_changes(model__layers__2__activation="relu"),
            "/model/layers/2/activation",
            ["relu"],
            id="relu-output",
        ),
        pytest.param(
            with_changes(training__optimizer={"type": "adam", "learning_rate": 5.0}),
            "/training/optimizer/learning_rate",
            ["5"],
            id="learning-rate-5",
        ),
        pytest.param(
            with_changes(training__optimizer={"type": "sgd", "learning_rate": 1e-7}),
            "/training/optimizer/learning_rate",
            ["1e-07"],
            id="learning-rate-1e-7",
        ),
        pytest.param(
            with_changes(model__layers__2__activation="linear"),
            "/training/loss/from_logits",
            ["logits"],
            id="linear-output-without-from-logits",
        ),
    ],
)
def test_questionable_spec_is_accepted_with_a_warning(
    client: TestClient, spec: Spec, pointer: str, words: list[str]
) -> None:
    run = accept(client, spec)
    w = warning_at(run, pointer)
    for word in words:
        assert word in w["message"], w
    # The warning is stored with the run, not just echoed once.
    again = client.get(f"/v1/runs/{run['id']}").json()
    assert again["warnings"] == run["warnings"]


def test_hints_say_what_to_use_instead(client: TestClient) -> None:
    run = accept(
        client,
        with_changes(model__layers__0__activation="sigmoid", model__layers__1__activation="linear"),
    )
    assert "relu" in warning_at(run, "/model/layers/0/activation")["hint"]
    assert "relu" in warning_at(run, "/model/layers/1/activation")["hint"]
    assert "collapse" in warning_at(run, "/model/layers/1/activation")["message"]

    run = accept(client, with_changes(model__layers__2__activation="linear"))
    assert "from_logits" in warning_at(run, "/training/loss/from_logits")["hint"]


def test_linear_output_with_from_logits_is_clean(client: TestClient) -> None:
    run = accept(
        client,
        with_changes(
            model__layers__2__activation="linear",
            training__loss={"type": "sparse_categorical_crossentropy", "from_logits": True},
        ),
    )
    assert run["warnings"] == []


def test_usual_learning_rates_do_not_warn(client: TestClient) -> None:
    for lr in (1e-5, 0.001, 0.01, 0.1):
        run = accept(client, with_changes(training__optimizer={"type": "sgd", "learning_rate": lr}))
        assert run["warnings"] == [], lr


def test_every_warning_in_one_answer(client: TestClient) -> None:
    spec = with_changes(
        model__layers__0__activation="linear",
        model__layers__1__activation="sigmoid",
        model__layers__2__activation="sigmoid",
        training__optimizer={"type": "adam", "learning_rate": 5.0},
    )
    run = accept(client, spec)
    assert {w["pointer"] for w in run["warnings"]} == {
        "/model/layers/0/activation",
        "/model/layers/1/activation",
        "/model/layers/2/activation",
        "/training/optimizer/learning_rate",
    }


def test_normalised_spec_shows_the_flatten_and_input_shape(client: TestClient) -> None:
    run = accept(client, with_changes(model__layers__1__activation="sigmoid"))
    model = run["spec"]["model"]
    assert model["input_shape"] == [28, 28]
    # The flatten in front of the dense layers is shown apart, so layer numbers stay the
    # user's: /model/layers/1 is the same layer in the request, the warnings and the spec.
    assert model["flatten_input"] is True
    assert [layer["type"] for layer in model["layers"]] == ["dense", "dense", "dense"]
    assert [layer.get("units") for layer in model["layers"]] == [64, 32, 10]
    assert model["layers"][1]["activation"] == "sigmoid"
    # Defaults are filled in, so the stored spec is exactly what the worker trains.
    assert run["spec"]["dataset"]["classes"] == list(range(10))
    assert run["spec"]["training"]["loss"] == {
        "type": "sparse_categorical_crossentropy",
        "from_logits": False,
    }
    assert [w["pointer"] for w in run["warnings"]] == ["/model/layers/1/activation"]
    assert client.get(f"/v1/runs/{run['id']}").json()["spec"] == run["spec"]


def test_conv_model_is_not_flattened_in_front(client: TestClient) -> None:
    spec = {
        "dataset": {"name": "digits", "classes": [3, 8]},
        "model": {
            "layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "linear"},
                {"type": "flatten"},
                {"type": "dense", "units": 1, "activation": "sigmoid"},
            ]
        },
        "training": {"loss": "binary_crossentropy", "epochs": 1},
    }
    run = accept(client, spec)
    assert run["spec"]["model"]["input_shape"] == [8, 8]
    assert run["spec"]["model"]["flatten_input"] is False
    assert [layer["type"] for layer in run["spec"]["model"]["layers"]] == [
        "conv2d",
        "flatten",
        "dense",
    ]
    assert [w["pointer"] for w in run["warnings"]] == ["/model/layers/0/activation"]


def test_seed_spec_from_the_docs_is_accepted_with_sigmoid_warnings(client: TestClient) -> None:
    """The example in docs/api.md: sigmoid hidden layers train, but the service suggests relu."""
    spec = {
        "name": "zero-vs-one",
        "dataset": {"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2},
        "model": {
            "layers": [
                {"type": "dense", "units": 25, "activation": "sigmoid"},
                {"type": "dense", "units": 15, "activation": "sigmoid"},
                {"type": "dense", "units": 1, "activation": "sigmoid"},
            ]
        },
        "training": {
            "optimizer": {"type": "adam", "learning_rate": 0.001},
            "loss": {"type": "binary_crossentropy"},
            "metrics": ["accuracy"],
            "epochs": 20,
            "batch_size": 32,
            "validation_split": 0.1,
            "seed": 42,
        },
    }
    run = accept(client, spec)
    assert run["name"] == "zero-vs-one"
    assert {w["pointer"] for w in run["warnings"]} == {
        "/model/layers/0/activation",
        "/model/layers/1/activation",
    }
    assert run["spec"]["model"]["flatten_input"] is True
    # The client's layers, in the client's numbering, with defaults filled in (e.g. l2).
    echoed = run["spec"]["model"]["layers"]
    sent = spec["model"]["layers"]
    assert [{k: e[k] for k in s} for e, s in zip(echoed, sent, strict=True)] == sent
