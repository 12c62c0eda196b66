"""The training options in a spec, checked without TensorFlow: mistakes are 422 problems
with pointers, pitfalls are warnings on the queued run."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.live import load_example


def warnings_of(client: TestClient, spec: dict[str, Any]) -> dict[str, str]:
    resp = client.post("/v1/runs", json=spec)
    assert resp.status_code == 202, resp.text
    return {w["pointer"]: w["message"] for w in resp.json()["warnings"]}


def test_every_option_example_is_accepted(client: TestClient) -> None:
    for name in ("digits-early-stopping", "digits-lr-plateau", "digits-batchnorm", "digits-l2"):
        assert client.post("/v1/runs", json=load_example(name)).status_code == 202, name


def test_pitfalls_are_warned(client: TestClient) -> None:
    spec = load_example("digits-l2", epochs=3)
    spec["model"]["layers"][0]["l2"] = 0.5
    spec["training"].update(
        early_stopping={"patience": 5},
        augmentation={"shift": 0.2, "rotation": 45},
        lr_schedule={"type": "exponential", "decay_rate": 0.01},
    )
    warned = warnings_of(client, spec)
    assert "can never stop" in warned["/training/early_stopping/patience"]
    assert "8x8" in warned["/training/augmentation"]
    assert "6 and 9" in warned["/training/augmentation/rotation"]
    assert "strong" in warned["/model/layers/0/l2"]
    assert "decays to" in warned["/training/lr_schedule/decay_rate"]

    plateau = load_example("digits-lr-plateau")
    plateau["training"]["early_stopping"] = {"patience": 1}
    assert "gives up before" in warnings_of(client, plateau)["/training/early_stopping/patience"]
    assert "/training/augmentation" not in warnings_of(client, load_example("mnist-augmented"))


def test_option_mistakes_are_one_422_with_pointers(client: TestClient) -> None:
    spec = load_example("digits-batchnorm")
    spec["model"]["layers"].append({"type": "batch_normalization", "momentum": 1.5})
    spec["training"].update(
        validation_split=0,
        metrics=[],
        early_stopping={"monitor": "val_accuracy", "patience": -1},
        lr_schedule={"type": "step"},
        augmentation={"shift": 2},
    )
    resp = client.post("/v1/runs", json=spec)
    assert resp.status_code == 422
    pointers = {e["pointer"] for e in resp.json()["errors"]}
    assert {
        "/model/layers/5/momentum",
        "/training/early_stopping/patience",
        "/training/lr_schedule/type",
        "/training/augmentation/shift",
    } <= pointers, resp.json()["errors"]

    spec = load_example("digits-early-stopping")
    spec["training"].update(validation_split=0, metrics=[])
    spec["training"]["early_stopping"]["monitor"] = "val_accuracy"
    spec["model"]["layers"].append({"type": "batch_normalization"})
    errors = client.post("/v1/runs", json=spec).json()["errors"]
    messages = [(e["pointer"], e["message"]) for e in errors]
    assert ("/training/early_stopping/monitor", "accuracy is not recorded") in messages
    assert any("needs a validation split" in m for p, m in messages)
    assert any(p == "/model/layers/2" and "batch_normalization" in m for p, m in messages)
