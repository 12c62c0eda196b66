"""Every network of the seed notes, from models/, trains to completion in real worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.datasets.builtin import load_split
from tests.fixtures.live import ROOT, LiveService, load_example, module_service
from tests.training.test_options import OPTION_EXAMPLES

# Nine runs on two workers, and the exports checked again here: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# The training-option examples are trained (and checked) in test_options.py.
EXAMPLES = sorted(p.stem for p in (ROOT / "models").glob("*.json") if p.stem not in OPTION_EXAMPLES)
# Few epochs keep the suite fast; the two with accuracy targets keep the epochs they need.
SHORT = {
    "digits-cnn": 2,
    "digits-relu": 3,
    "digits-softmax": 3,
    "digits-multilabel": 3,
    "digits-regression": 3,
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One service for the module (a start costs ~17 s of CPU), two workers: the examples
    train two at a time, and the reproducibility test's two runs train side by side."""
    with module_service(tmp_path_factory, "examples", workers=2) as service:
        yield service


def test_every_seed_network_has_an_example() -> None:
    assert {
        "zero-vs-one",
        "digits-softmax",
        "digits-logits",
        "digits-relu",
        "digits-cnn",
        "digits-multilabel",
        "digits-regression",
    } <= set(EXAMPLES)


def test_examples_train_and_reach_their_targets(svc: LiveService, tmp_path: Path) -> None:
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
    assert done["digits-multilabel"]["evaluation"]["labels"] == [
        "even",
        "at_least_5",
        "closed_loop",
    ]
    assert done["digits-regression"]["evaluation"]["mae"] < 2.5

    # The course's lesson: softmax output vs a linear one with from_logits=True.
    lesson = svc.http.get(
        "/v1/runs/compare", params={"ids": [runs["digits-softmax"], runs["digits-logits"]]}
    ).json()
    assert {"pointer": "/model/layers/2/activation", "values": ["softmax", "linear"]} in lesson[
        "spec_differences"
    ]
    accuracies = {r["id"]: r["test"]["accuracy"] for r in lesson["runs"]}
    assert lesson["best"]["test_accuracy"] == max(accuracies, key=accuracies.__getitem__)
    assert lesson["best"]["test_loss"] is not None and lesson["warnings"] == []
    apart = svc.http.get(
        "/v1/runs/compare", params={"ids": f"{runs['digits-softmax']},{runs['digits-regression']}"}
    ).json()
    assert apart["best"]["test_loss"] is None  # MSE against cross-entropy
    assert {w["pointer"] for w in apart["warnings"]} >= {"/dataset/target", "/training/loss/type"}

    model = svc.http.get(f"/v1/runs/{runs['zero-vs-one']}/model")
    assert model.status_code == 200 and model.content[:2] == b"PK"  # .keras files are zip archives

    for name, run in done.items():
        check_exports_against_keras(svc, run, tmp_path / name)


def check_exports_against_keras(svc: LiveService, run: dict[str, Any], where: Path) -> None:
    """Both exports were verified by the worker; here they are downloaded and run again by
    their runtime, independently, against the downloaded Keras model on held-out digits."""
    import keras

    from app.runtimes import runtime

    ds = run["spec"]["dataset"]
    split = load_split(ds["name"], ds["classes"], ds["test_fraction"], 7, Path("."))
    x = np.ascontiguousarray(split.x_test[:64, ..., None], dtype=np.float32)
    where.mkdir()
    files = {}
    for fmt in ("keras", "onnx", "tflite"):
        assert run["exports"].get(fmt, {"status": "available"})["status"] == "available", run
        files[fmt] = where / f"model.{fmt}"
        files[fmt].write_bytes(svc.http.get(f"/v1/runs/{run['id']}/model?format={fmt}").content)
    reference = keras.saving.load_model(files["keras"], compile=False).predict(x, verbose=0)
    for fmt, name in (("onnx", "onnxruntime"), ("tflite", "litert")):
        export = run["exports"][fmt]
        assert export["max_abs_diff"] <= 1e-4, (run["name"], fmt, export)
        expected_agreement = None if ds["target"] == "value" else 1.0
        assert export["label_agreement"] == expected_agreement, (run["name"], fmt, export)
        outputs = runtime(name).load(files[fmt], x.shape[1:3]).forward(x)  # type: ignore[arg-type]
        np.testing.assert_allclose(outputs, reference, atol=1e-4, err_msg=f"{run['name']} {fmt}")


@pytest.mark.parametrize(("example", "xla"), [("digits-relu", True), ("digits-cnn", False)])
def test_same_spec_and_seed_train_to_the_same_metrics(
    svc: LiveService, example: str, xla: bool
) -> None:
    """The MLP's step runs under XLA, the CNN's convolutions under oneDNN (the workers' default
    since session 7): each twice, side by side, to the same metrics."""
    spec = load_example(example, epochs=2 if xla else 1)
    first, second = (svc.submit(spec)["id"] for _ in range(2))
    a, b = svc.wait_for(first), svc.wait_for(second)
    assert a["status"] == b["status"] == "succeeded"
    assert a["evaluation"] == b["evaluation"]
    assert _epochs(svc, first) == _epochs(svc, second)
    assert a["reproducibility"] == b["reproducibility"]
    assert a["reproducibility"]["jit_compile"] is xla and a["reproducibility"]["notes"] == []
    assert a["reproducibility"]["onednn"] is True


def _epochs(svc: LiveService, run_id: str) -> list[dict]:
    epochs = svc.http.get(f"/v1/runs/{run_id}/metrics").json()["epochs"]
    return [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]
