"""ONNX Runtime: the default serving runtime.

Chosen over LiteRT because ``InferenceSession.run`` is documented thread-safe (the serving
threads and the event loop share one session with no lock), it is faster on batches, and
browsers run the same file (ONNX Runtime Web); see bench/README.md for the measurement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.runtimes import ModelFormat, Network, RuntimeName, static


class OnnxRuntime:
    name: RuntimeName = "onnxruntime"
    format: ModelFormat = "onnx"

    def load(self, path: Path, input_shape: tuple[int, int]) -> Network:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Digit networks are a few hundred kFLOP: one thread per call is fastest, and the
        # service already runs one call per core at once. Spinning threads would only burn
        # the cores that other requests need.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        (inp,) = session.get_inputs()
        out = session.get_outputs()[0]
        name, run = inp.name, session.run
        outputs = [out.name]

        def forward(x: np.ndarray) -> np.ndarray:
            return run(outputs, {name: x})[0]  # type: ignore[no-any-return]

        shape = static(inp.shape)
        return Network(forward, shape[1:], static(out.shape)[-1], "onnxruntime")
