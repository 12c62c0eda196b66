"""LiteRT (formerly TensorFlow Lite): the runtime for ``.tflite`` exports.

An interpreter holds its tensors between calls, so it is not safe to share between
threads: each call takes the lock, and resizes the input only when the batch size changes.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app.runtimes import ModelFormat, Network, RuntimeName, static


class LiteRT:
    name: RuntimeName = "litert"
    format: ModelFormat = "tflite"

    def load(self, path: Path, input_shape: tuple[int, int]) -> Network:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise RuntimeError("LiteRT is not installed: pip install 'trainserve[litert]'") from exc

        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
        (inp,) = interpreter.get_input_details()
        details = interpreter.get_output_details()[0]
        index, out_index = inp["index"], details["index"]
        declared = [int(d) for d in inp.get("shape_signature", inp["shape"])]
        lock = threading.Lock()
        batch = [int(inp["shape"][0])]

        def forward(x: np.ndarray) -> np.ndarray:
            with lock:
                if x.shape[0] != batch[0]:
                    interpreter.resize_tensor_input(index, list(x.shape), strict=True)
                    interpreter.allocate_tensors()
                    batch[0] = x.shape[0]
                interpreter.set_tensor(index, x)
                interpreter.invoke()
                result: np.ndarray = interpreter.get_tensor(out_index).copy()
                return result

        units = int(details["shape"][-1])
        return Network(forward, static(declared)[1:], units, "litert")
