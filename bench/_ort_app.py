"""Baseline (d), the new ceiling: bare Starlette + ONNX Runtime. Not part of the product.

As bench/_bare_app.py, but the forward pass is an ``onnxruntime.InferenceSession`` on the
run's ``model.onnx`` export (one intra-op thread, as trainserve configures it), and the
process never imports TensorFlow.
"""

from __future__ import annotations

import os

# As app/runtimes does: without it, importing onnxruntime writes a device id under ~/.cache.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import onnxruntime as ort

from bench._bare_routes import bare_app

_options = ort.SessionOptions()
_options.intra_op_num_threads = 1
_options.inter_op_num_threads = 1
_session = ort.InferenceSession(
    os.environ["BENCH_ONNX_PATH"], sess_options=_options, providers=["CPUExecutionProvider"]
)
_input = _session.get_inputs()[0].name


app = bare_app(lambda x: _session.run(None, {_input: x})[0])
