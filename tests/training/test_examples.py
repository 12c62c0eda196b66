"""Every network of the seed notes, from models/, trains to completion in real worker processes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.live import ROOT, LiveService, load_example

pytestmark = pytest.mark.slow

EXAMPLES = sorted(p.stem for p in (ROOT / "models").glob("*.json"))
# Few epochs keep the suite fast; the two with accuracy targets keep the epochs they need.
SHORT = {"digits-cnn": 2, "digits-relu": 3, "digits-softmax": 3, "digits-multilabel": 3,
         "digits-regression": 3}


def test_every_seed_network_has_an_example() -> None:
    assert {"zero-vs-one", "digits-softmax", "digits-logits", "digits-relu", "digits-cnn",
            "digits-multilabel", "digits-regression"} <= set(EXAMPLES)


def test_examples_train_and_reach_their_targets(live: Callable[..., LiveService]) -> None:
    svc = live(workers=2)
    runs = {}
    for name in EXAMPLES:
        overrides = {"epochs": SHORT[name]} if name in SHORT else {}
        runs[name] = svc.submit(load_example(name, **overrides))["id"]
    done = {name: svc.wait_for(run_id) for name, run_id in runs.items()}

    for name, run in done.items():
        assert run["status"] == "succeeded", (name, run["failure_reason"])
        assert run["artifact"]["bytes"] > 0 and len(run["artifact"]["sha256"]) == 64
        assert run["reproducibility"]["dataset_sha256"]
        assert svc.epochs(run["id"]) == list(range(1, run["progress"]["epochs"] + 1))

    assert done["zero-vs-one"]["evaluation"]["accuracy"] >= 0.99
    assert done["digits-logits"]["evaluation"]["accuracy"] >= 0.90
    assert len(done["digits-softmax"]["evaluation"]["confusion_matrix"]) == 10
    assert done["zero-vs-one"]["evaluation"]["labels"] == [0, 1]
    assert done["digits-multilabel"]["evaluation"]["labels"] == ["even", "at_least_5", "closed_loop"]
    assert done["digits-regression"]["evaluation"]["mae"] < 2.5

    # The course's lesson: softmax output vs a linear one with from_logits=True.
    lesson = svc.http.get("/v1/runs/compare", params={
        "ids": [runs["digits-softmax"], runs["digits-logits"]]}).json()
    assert {"pointer": "/model/layers/3/activation", "values": ["softmax", "linear"]} \
        in lesson["spec_differences"]
    accuracies = {r["id"]: r["test"]["accuracy"] for r in lesson["runs"]}
    assert lesson["best"]["test_accuracy"] == max(accuracies, key=accuracies.__getitem__)
    assert lesson["best"]["test_loss"] is not None and lesson["warnings"] == []
    apart = svc.http.get("/v1/runs/compare", params={
        "ids": f"{runs['digits-softmax']},{runs['digits-regression']}"}).json()
    assert apart["best"]["test_loss"] is None  # MSE against cross-entropy
    assert {w["pointer"] for w in apart["warnings"]} >= {"/dataset/target", "/training/loss/type"}

    model = svc.http.get(f"/v1/runs/{runs['zero-vs-one']}/model")
    assert model.status_code == 200 and model.content[:2] == b"PK"  # .keras files are zip archives


def test_same_spec_and_seed_train_to_the_same_metrics(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1)
    spec = load_example("digits-relu", epochs=2)
    first, second = (svc.submit(spec)["id"] for _ in range(2))
    a, b = svc.wait_for(first), svc.wait_for(second)
    assert a["status"] == b["status"] == "succeeded"
    assert a["evaluation"]["loss"] == pytest.approx(b["evaluation"]["loss"], rel=1e-6)
    assert a["reproducibility"] == b["reproducibility"]
