"""A run's model files: written atomically, identified by their sha256.

Every file a worker leaves in a run's directory (``model.keras`` and its exports) goes
through ``write_atomically``, so a reader sees each file either absent or complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.storage.atomic import atomic_path

if TYPE_CHECKING:  # the API imports MODEL_FILE from here and must not load TensorFlow
    import keras

MODEL_FILE = "model.keras"
# Download format -> file name in the run's directory.
FORMAT_FILES = {"keras": MODEL_FILE, "onnx": "model.onnx", "tflite": "model.tflite"}


def save_model(model: keras.Model, run_dir: Path) -> tuple[str, int]:
    """Write ``model.keras`` so that it is either absent or complete; returns (sha256, bytes)."""
    return write_atomically(run_dir, MODEL_FILE, model.save)


def write_atomically(run_dir: Path, name: str, write: Callable[[Path], object]) -> tuple[str, int]:
    """Let ``write`` produce the file at a temporary path, then move it to ``name``.

    Returns (sha256, bytes). The temporary file (``app.storage.atomic``'s one mark) keeps
    the final suffix because the Keras writers insist on it; it is removed when ``write``
    fails.
    """
    with atomic_path(run_dir / name) as tmp:
        write(tmp)
        digest, size = file_sha256(tmp), tmp.stat().st_size
    return digest, size


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
