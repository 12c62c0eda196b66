"""The runtimes that run a trained network's forward pass, behind one small interface.

Its own domain, below training and inference, because both use it: workers run each export
with the runtime that will serve it to verify it; API processes serve with it.

A runtime reads one file format and hands back a ``Network``: a thread-safe forward pass
plus the shapes it was built for. ONNX Runtime (``.onnx``) is the default for serving,
LiteRT (``.tflite``) the alternative, Keras (``.keras``) the fallback for runs without a
usable export and the only one that needs TensorFlow. The runtime libraries are imported
when a file is loaded, never when this package is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

# ONNX Runtime 1.32 writes a device id and an event database under ~/.cache when it is
# imported, unless this is set first; a serving process writes only to its data dir and the
# temp dir. Set here, before anything can import onnxruntime (tf2onnx in a worker too).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

Forward = Callable[[np.ndarray], np.ndarray]
RuntimeName = Literal["onnxruntime", "litert", "keras"]
ModelFormat = Literal["onnx", "tflite", "keras"]


@dataclass(frozen=True)
class Network:
    """A loaded network: ``forward`` maps float32 (N, H, W, 1) to float32 (N, units)."""

    forward: Forward
    input_shape: tuple[int | None, ...]  # per instance, as the file declares it
    units: int | None
    runtime: RuntimeName


class Runtime(Protocol):
    name: RuntimeName
    format: ModelFormat

    def load(self, path: Path, input_shape: tuple[int, int]) -> Network:
        """Load ``path`` for (N, *input_shape, 1) inputs; raises on a file it cannot run."""
        ...


def runtime(name: RuntimeName) -> Runtime:
    """The runtime called ``name`` (the ``serving_runtime`` setting's values)."""
    if name == "onnxruntime":
        from app.runtimes.onnx import OnnxRuntime

        return OnnxRuntime()
    if name == "litert":
        from app.runtimes.litert import LiteRT

        return LiteRT()
    if name == "keras":
        from app.runtimes.keras import KerasRuntime

        return KerasRuntime()
    raise ValueError(f"unknown runtime {name!r}")


RUNTIME_OF_FORMAT: dict[ModelFormat, RuntimeName] = {
    "onnx": "onnxruntime",
    "tflite": "litert",
    "keras": "keras",
}
FORMAT_OF_RUNTIME: dict[RuntimeName, ModelFormat] = {v: k for k, v in RUNTIME_OF_FORMAT.items()}


def for_path(path: Path) -> Runtime:
    """The runtime that reads ``path``, by its suffix (``.onnx``, ``.tflite``, ``.keras``)."""
    fmt = path.suffix.lstrip(".")
    if fmt not in RUNTIME_OF_FORMAT:
        raise ValueError(f"no runtime reads {path.name}")
    return runtime(RUNTIME_OF_FORMAT[fmt])  # type: ignore[index,unused-ignore]


def static(dims: Sequence[int | str | None]) -> tuple[int | None, ...]:
    """Dimensions with symbolic or negative sizes (a dynamic batch, say) as None."""
    return tuple(d if isinstance(d, int) and d >= 0 else None for d in dims)
