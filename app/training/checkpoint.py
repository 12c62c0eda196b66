"""Per-epoch checkpoints: weights, optimizer state and epoch, written atomically.

A plain npz of variable values is a few milliseconds for the networks this service trains,
where a full ``model.save`` costs tens: it runs after every epoch, so that matters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.storage.atomic import atomic_file
from app.storage.runs import checkpoint_name

if TYPE_CHECKING:  # worker-only module, but the pool imports it without TensorFlow
    import keras


def snapshot(model: keras.Model) -> list[np.ndarray]:
    """Copies of every model and optimizer variable, taken between two batches."""
    return [np.array(v.numpy()) for v in [*model.weights, *model.optimizer.variables]]


def path_for(run_dir: Path, epoch: int) -> Path:
    return run_dir / checkpoint_name(epoch)


def write(
    run_dir: Path,
    epoch: int,
    arrays: list[np.ndarray],
    state: dict[str, Any] | None = None,
    extra: list[np.ndarray] | None = None,
) -> Path:
    """``state`` (JSON) and ``extra`` arrays belong to the training callbacks (early-stopping
    counters, the best weights kept for restoring): they resume with the weights."""
    final = path_for(run_dir, epoch)
    # Typed as Any: numpy's stub would take these names for savez's own keyword arguments.
    named: dict[str, Any] = {f"extra_{i}": a for i, a in enumerate(extra or [])}
    named["state"] = np.frombuffer(json.dumps(state or {}).encode(), dtype=np.uint8)
    with atomic_file(final) as fh:
        np.savez(fh, *arrays, **named)
    return final


def remove_others(run_dir: Path, epoch: int) -> None:
    """Delete every checkpoint but ``epoch``'s: only once the run's row names ``epoch``, or a
    crash in between would leave the row naming a deleted file."""
    keep = path_for(run_dir, epoch)
    for old in run_dir.glob("checkpoint-*.npz"):
        if old != keep:
            old.unlink(missing_ok=True)


def restore(model: keras.Model, path: Path) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Put the weights and optimizer state back; returns the callbacks' state and arrays."""
    model.optimizer.build(model.trainable_variables)
    variables = [*model.weights, *model.optimizer.variables]
    with np.load(path) as npz:
        count = sum(name.startswith("arr_") for name in npz.files)
        arrays = [npz[f"arr_{i}"] for i in range(count)]
        extra_count = sum(name.startswith("extra_") for name in npz.files)
        extra = [npz[f"extra_{i}"] for i in range(extra_count)]
        state = json.loads(npz["state"].tobytes()) if "state" in npz.files else {}
    if len(arrays) != len(variables):
        raise ValueError(
            f"checkpoint {path.name} has {len(arrays)} arrays, the model {len(variables)}"
        )
    for var, value in zip(variables, arrays, strict=True):
        var.assign(value)
    return state, extra


def remove_all(run_dir: Path) -> None:
    """Once the run has succeeded its model file supersedes every checkpoint."""
    for path in run_dir.glob("checkpoint-*.npz"):
        path.unlink(missing_ok=True)
