"""Exported models over real HTTP: an API process that serves only ONNX exports (never importing
TensorFlow, writing nothing in its home), downloads in every format opened with their runtime,
tampered exports refused, and the Keras fallback for runs without exports."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from app.datasets.builtin import load_split
from app.runtimes import runtime
from tests.fixtures.images import render
from tests.fixtures.live import ROOT, LiveService, load_example

# Three runs trained, each exported twice, and four API processes: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


class Stack:
    """An API process without workers (HOME pointed at an empty directory) and one separate
    `trainserve worker` process: the API process is then only ever serving."""

    def __init__(self, data_dir: Path, home: Path) -> None:
        self.api = LiveService(data_dir, workers=0)
        self.home = home
        self.api.env["HOME"] = str(home)
        self.api.env.pop("XDG_CACHE_HOME", None)
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self) -> Stack:
        self.api.start()
        env = {k: v for k, v in self.api.env.items() if k != "HOME"} | {"HOME": os.environ["HOME"]}
        log = (self.api.data_dir / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(60)
        self.api.stop()

    def api_mapped_files(self) -> str:
        assert self.api.proc is not None
        return Path(f"/proc/{self.api.proc.pid}/maps").read_text()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("portable")
    (root / "home").mkdir()
    s = Stack(root / "var", root / "home").start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def runs(stack: Stack) -> dict[str, dict[str, Any]]:
    svc = stack.api
    ids = {
        "digits": svc.submit(load_example("digits-logits", epochs=2))["id"],
        "binary": svc.submit(load_example("zero-vs-one", epochs=2))["id"],
        "spare": svc.submit(load_example("zero-vs-one", epochs=1))["id"],
    }
    # Generous: three runs one after another on one worker, each exported twice.
    return {k: svc.wait_for(v, timeout=900) for k, v in ids.items()}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    split = load_split("mnist-5k", None, 0.2, 42, Path("."))
    return split.x_test[:32], split.labels_test[:32]


def set_exports(svc: LiveService, run_id: str, exports: dict[str, Any] | None) -> None:
    engine = create_engine(f"sqlite:///{svc.data_dir / 'trainserve.db'}")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE runs SET exports = :e WHERE id = :id"),
            {"e": None if exports is None else json.dumps(exports), "id": run_id},
        )
    engine.dispose()


def oip_infer(svc: LiveService, model: str, batch: np.ndarray) -> dict[str, Any]:
    body = {
        "inputs": [
            {
                "name": "input",
                "datatype": "FP32",
                "shape": list(batch.shape),
                "data": batch.ravel().tolist(),
            }
        ]
    }
    resp = svc.http.post(f"/v2/models/{model}/infer", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_runs_record_verified_exports(runs: dict[str, dict[str, Any]]) -> None:
    for run in runs.values():
        assert run["status"] == "succeeded", run["failure_reason"]
        for fmt, runtime_name in (("onnx", "onnxruntime"), ("tflite", "litert")):
            export = run["exports"][fmt]
            assert export["status"] == "available", export
            assert export["runtime"] == runtime_name and export["bytes"] > 0
            assert len(export["sha256"]) == 64
            assert export["max_abs_diff"] <= 1e-4 and export["label_agreement"] == 1.0
            assert export["examples"] == run["evaluation"]["num_examples"]


def test_api_serving_exports_never_imports_tensorflow(
    stack: Stack, runs: dict[str, dict[str, Any]], digits: tuple[np.ndarray, np.ndarray]
) -> None:
    svc, (batch, labels) = stack.api, digits
    digits_id, binary_id = runs["digits"]["id"], runs["binary"]["id"]

    answers = svc.http.post(
        f"/v1/runs/{digits_id}/predict", json={"instances": batch.tolist()}
    ).json()["predictions"]
    assert np.mean([a["label"] for a in answers] == labels) > 0.8
    upload = svc.http.post(
        f"/v1/runs/{digits_id}/predict",
        files=[
            ("file", (f"{i}.png", render(d, "png"), "image/png")) for i, d in enumerate(batch[:4])
        ],
    )
    assert upload.status_code == 200, upload.text
    assert svc.http.put("/v1/models/prod", json={"run_id": digits_id}).status_code in (200, 201)
    out = oip_infer(svc, "prod", batch[:4])
    assert {o["name"] for o in out["outputs"]} >= {"probabilities", "label"}
    assert svc.http.get("/v2/models/prod").json()["platform"] == "onnxruntime_onnx"
    assert svc.http.put("/v1/models/prod", json={"run_id": binary_id}).status_code == 200
    repointed = svc.http.post("/v1/models/prod/predict", json={"instances": batch[:4].tolist()})
    assert repointed.status_code == 200 and repointed.json()["model"]["run_id"] == binary_id
    assert "probability" in repointed.json()["predictions"][0]

    mapped = stack.api_mapped_files()
    assert "onnxruntime" in mapped  # it did load the runtime ...
    assert "tensorflow" not in mapped and "keras" not in mapped  # ... and never TensorFlow
    # Nothing written outside the data dir and the temp dir (ONNX Runtime's telemetry is off).
    assert [str(p) for p in stack.home.rglob("*")] == []


def test_downloads_open_with_their_runtime(
    stack: Stack, runs: dict[str, dict[str, Any]], digits: tuple[np.ndarray, np.ndarray]
) -> None:
    keras = pytest.importorskip("keras")
    run = runs["digits"]
    x = np.ascontiguousarray(digits[0][..., None], dtype=np.float32)
    outputs = {}
    for fmt, media_type in (
        ("keras", "application/octet-stream"),
        ("onnx", "application/onnx"),
        ("tflite", "application/vnd.tflite"),
    ):
        resp = stack.api.http.get(f"/v1/runs/{run['id']}/model", params={"format": fmt})
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == media_type
        assert f'{run["name"]}-{run["id"]}.{fmt}"' in resp.headers["content-disposition"]
        sha256 = run["artifact"]["sha256"] if fmt == "keras" else run["exports"][fmt]["sha256"]
        assert hashlib.sha256(resp.content).hexdigest() == sha256
        path = stack.home.parent / f"download.{fmt}"
        path.write_bytes(resp.content)
        if fmt == "keras":
            outputs[fmt] = keras.saving.load_model(path, compile=False).predict(x, verbose=0)
        else:
            outputs[fmt] = (
                runtime("onnxruntime" if fmt == "onnx" else "litert")
                .load(path, (28, 28))
                .forward(x)
            )
    for fmt in ("onnx", "tflite"):
        np.testing.assert_allclose(outputs[fmt], outputs["keras"], atol=1e-5)
    # The ONNX input has a stable name for users of the file.
    import onnxruntime as ort  # after app.runtimes, which turns its telemetry off

    session = ort.InferenceSession(str(stack.home.parent / "download.onnx"))
    assert [i.name for i in session.get_inputs()] == ["pixels"]


def test_unknown_and_unavailable_formats_list_what_the_run_has(
    stack: Stack, runs: dict[str, dict[str, Any]]
) -> None:
    svc, run = stack.api, runs["spare"]
    unknown = svc.http.get(f"/v1/runs/{run['id']}/model", params={"format": "pt"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    problem = unknown.json()
    assert "keras, onnx, tflite" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "/format"

    exports = dict(run["exports"], tflite={"status": "unavailable", "reason": "it broke"})
    set_exports(svc, run["id"], exports)
    missing = svc.http.get(f"/v1/runs/{run['id']}/model", params={"format": "tflite"})
    assert missing.status_code == 409
    assert "it broke" in missing.json()["detail"] and "keras, onnx" in missing.json()["detail"]
    assert missing.json()["errors"][0]["hint"] == "use format=keras or format=onnx"
    set_exports(svc, run["id"], run["exports"])


def test_a_tampered_onnx_file_is_refused(stack: Stack, runs: dict[str, dict[str, Any]]) -> None:
    svc, run_id = stack.api, runs["spare"]["id"]
    onnx = svc.data_dir / "runs" / run_id / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-8] + b"tampered")
    resp = svc.http.post(f"/v1/runs/{run_id}/predict", json={"instances": [[0.0] * 784]})
    assert resp.status_code == 409, resp.text
    assert "sha256" in resp.json()["detail"]
    assert svc.http.get(f"/v1/runs/{run_id}").json()["exports"]["onnx"]["status"] == "available"


def test_keras_answers_like_onnx_and_serves_runs_without_exports(
    stack: Stack,
    runs: dict[str, dict[str, Any]],
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    onnx_api, batch = stack.api, digits[0]
    keras_api = LiveService(onnx_api.data_dir, workers=0, serving_runtime="keras").start()
    litert_api = LiveService(onnx_api.data_dir, workers=0, serving_runtime="litert").start()
    try:
        for run_id in (runs["digits"]["id"], runs["binary"]["id"]):
            answers = [
                # The first load in the Keras process imports TensorFlow: slow on a busy machine.
                api.http.post(
                    f"/v1/runs/{run_id}/predict", json={"instances": batch.tolist()}, timeout=180
                ).json()["predictions"]
                for api in (onnx_api, keras_api, litert_api)
            ]
            for other in answers[1:]:
                for ours, theirs in zip(answers[0], other, strict=True):
                    assert ours["label"] == theirs["label"]
                    assert np.allclose(
                        ours.get("probabilities", ours.get("probability")),
                        theirs.get("probabilities", theirs.get("probability")),
                        atol=1e-5,
                    )
        assert keras_api.http.get(f"/v2/models/{runs['digits']['id']}").json()["platform"] == (
            "tensorflow_keras"
        )
        assert litert_api.http.get(f"/v2/models/{runs['digits']['id']}").json()["platform"] == (
            "litert_tflite"
        )
        # A run trained before exports existed (and not loaded here yet): served with Keras
        # (its first load imports TensorFlow, which takes a while on a busy machine).
        spare = runs["spare"]["id"]
        set_exports(onnx_api, spare, None)
        resp = litert_api.http.post(
            f"/v1/runs/{spare}/predict", json={"instances": batch[:2].tolist()}, timeout=180
        )
        assert resp.status_code == 200, resp.text
        metadata = litert_api.http.get(f"/v2/models/{spare}").json()
        assert metadata["platform"] == "tensorflow_keras"
        assert onnx_api.http.get(f"/v1/runs/{spare}").json()["exports"] is None
    finally:
        keras_api.stop()
        litert_api.stop()
