"""Per-epoch checkpoints: weights, optimizer state and epoch, written atomically.

A plain npz of variable values is a few milliseconds for the networks this service trains,
where a full ``model.save`` costs tens: it runs after every epoch, so that matters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # worker-only module, but the pool imports it without TensorFlow
    import keras


def snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of every model and optimizer variable, taken between two batches."""
    return [np.array(v.numpy()) for v in [*model.weights, *model.optimizer.variables]]


def path_for(run_dir: Path, epoch: int) -> Path:
    return run_dir / f"checkpoint-{epoch:05d}.npz"


def write(run_dir: Path, epoch: int, arrays: list[np.ndarray]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    final = path_for(run_dir, epoch)
    tmp = final.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, *arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(run_dir)
    for old in run_dir.glob("checkpoint-*.npz"):
        if old != final:
            old.unlink(missing_ok=True)
    return final


def restore(model: keras.Model, path: Path) -> None:
    model.optimizer.build(model.trainable_variables)
    variables = [*model.weights, *model.optimizer.variables]
    with np.load(path) as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    if len(arrays) != len(variables):
        raise ValueError(f"checkpoint {path.name} has {len(arrays)} arrays, the model {len(variables)}")
    for var, value in zip(variables, arrays, strict=True):
        var.assign(value)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_all(run_dir: Path) -> None:
    """Once the run has succeeded its model file supersedes every checkpoint."""
    for path in run_dir.glob("checkpoint-*.npz"):
        path.unlink(missing_ok=True)
