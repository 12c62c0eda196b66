"""The runtimes interface without TensorFlow: a small ONNX graph built here, which file a run
is served from, and ONNX Runtime's telemetry kept off."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.inference.resolve import serving_file
from app.runtimes import runtime
from app.settings import Settings
from tests.fixtures.live import ROOT

onnx = pytest.importorskip("onnx")

AVAILABLE = {"status": "available", "sha256": "a" * 64}
UNAVAILABLE = {"status": "unavailable", "reason": "it broke"}


def linear_model(path: Path, weights: np.ndarray) -> Path:
    """pixels (N, 28, 28, 1) -> flatten -> matmul: a logits layer, as Keras would export it."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["pixels", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        ],
        "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [
            numpy_helper.from_array(np.array([-1, 784], dtype=np.int64), "shape"),
            numpy_helper.from_array(weights, "w"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_onnx_runtime_runs_a_model_from_many_threads(tmp_path: Path) -> None:
    weights = np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32)
    network = runtime("onnxruntime").load(linear_model(tmp_path / "m.onnx", weights), (28, 28))
    assert (network.input_shape, network.units, network.runtime) == ((28, 28, 1), 10, "onnxruntime")
    batches = [
        np.random.default_rng(i).random((1 + i % 5, 28, 28, 1), dtype=np.float32) for i in range(40)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(network.forward, batches))
    for batch, out in zip(batches, outputs, strict=True):
        np.testing.assert_allclose(
            out, batch.reshape(len(batch), -1) @ weights, rtol=1e-5, atol=1e-4
        )


def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(Exception):  # noqa: B017 - ONNX Runtime's own error type; the predictor wraps it
        runtime("onnxruntime").load(bad, (28, 28))


@pytest.mark.parametrize(
    ("configured", "exports", "served"),
    [
        ("onnxruntime", {"onnx": AVAILABLE, "tflite": AVAILABLE}, "onnx"),
        ("litert", {"onnx": AVAILABLE, "tflite": AVAILABLE}, "tflite"),
        ("onnxruntime", {"onnx": UNAVAILABLE, "tflite": AVAILABLE}, "tflite"),
        ("litert", {"onnx": AVAILABLE, "tflite": UNAVAILABLE}, "onnx"),
        ("onnxruntime", {"onnx": UNAVAILABLE, "tflite": UNAVAILABLE}, "keras"),
        ("onnxruntime", {}, "keras"),  # trained before exports existed
        ("keras", {"onnx": AVAILABLE, "tflite": AVAILABLE}, "keras"),
    ],
)
def test_the_configured_runtime_serves_and_keras_only_without_an_export(
    tmp_path: Path, configured: str, exports: dict[str, dict[str, str]], served: str
) -> None:
    settings = Settings(data_dir=tmp_path, serving_runtime=configured, _env_file=None)  # type: ignore[call-arg]
    fmt, sha256 = serving_file(settings, exports, "k" * 64)
    assert fmt == served
    assert sha256 == ("k" * 64 if served == "keras" else "a" * 64)


def test_onnx_runtime_writes_nothing_in_home(tmp_path: Path) -> None:
    """ONNX Runtime 1.32 writes a device id and an event database under ~/.cache on import
    unless its telemetry is off; the runtimes package turns it off before any import."""
    home = tmp_path / "home"
    home.mkdir()
    model = linear_model(tmp_path / "m.onnx", np.ones((784, 10), dtype=np.float32))
    code = (
        "import sys; from pathlib import Path; from app.runtimes import runtime; "
        "n = runtime('onnxruntime').load(Path(sys.argv[1]), (28, 28)); "
        "import numpy as np; n.forward(np.zeros((1, 28, 28, 1), np.float32))"
    )
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code, str(model)], cwd=ROOT, env=env, check=True)
    assert list(home.rglob("*")) == []
