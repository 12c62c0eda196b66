"""The trained model file: written atomically, identified by its sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.training.checkpoint import fsync_dir

if TYPE_CHECKING:  # the API imports MODEL_FILE from here and must not load TensorFlow
    import keras

MODEL_FILE = "model.keras"


def save_model(model: keras.Model, run_dir: Path) -> tuple[str, int]:
    """Write ``model.keras`` so that it is either absent or complete; returns (sha256, bytes)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / MODEL_FILE
    tmp = run_dir / f".partial-{os.getpid()}.keras"  # Keras insists on the .keras suffix
    model.save(tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    digest, size = file_sha256(tmp), tmp.stat().st_size
    os.replace(tmp, final)
    fsync_dir(run_dir)
    return digest, size


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
