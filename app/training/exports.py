"""Portable copies of a trained model: ONNX and LiteRT files, each checked with its own runtime.

Runs in the worker after evaluation. Each export is run by the same runtime class that
serves it (``app.runtimes``) on the held-out test split and compared with Keras'
outputs; one that fails, or disagrees (any label, or any output by more than
``MAX_ABS_DIFF``), is recorded as unavailable with the reason and its file is not kept.
The run succeeds either way: the ``.keras`` file still serves it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from app.enums import Task
from app.runs.spec import task_of
from app.runtimes import RUNTIME_OF_FORMAT, Forward, ModelFormat, runtime
from app.training.artifacts import FORMAT_FILES, write_atomically
from app.training.evaluation import predicted_labels

log = logging.getLogger("trainserve.worker")

FORMATS: tuple[ModelFormat, ...] = ("onnx", "tflite")
MAX_ABS_DIFF = 1e-4
# The exported graph's input name; left to the exporter it depends on what ran before.
INPUT_NAME = "pixels"
_KERAS_FORMAT = {"onnx": "onnx", "tflite": "litert"}
NOT_REQUESTED = "not requested: the worker's TRAINSERVE_EXPORT_FORMATS leaves this format out"


def export_all(
    model: keras.Model,
    spec: dict[str, Any],
    x_test: np.ndarray,
    run_dir: Path,
    requested: Collection[str] = FORMATS,
) -> dict[str, Any]:
    """The run's ``exports`` object: per format either ``status: available`` with sha256,
    bytes, max_abs_diff and label_agreement, or ``status: unavailable`` with a reason (also
    for a format the worker's ``TRAINSERVE_EXPORT_FORMATS`` leaves out)."""
    exports: dict[str, Any] = {
        fmt: _unavailable(NOT_REQUESTED) for fmt in FORMATS if fmt not in requested
    }
    if len(exports) == len(FORMATS):
        return exports
    reference = np.asarray(model.predict(x_test, batch_size=512, verbose=0), dtype=np.float32)
    check = _Check(x_test, reference, task_of(spec), bool(spec["training"]["loss"]["from_logits"]))
    exports |= {fmt: _export(model, fmt, run_dir, check) for fmt in FORMATS if fmt in requested}
    return {fmt: exports[fmt] for fmt in FORMATS}


class _Check:
    """Compares an export's outputs with Keras' on the test split."""

    def __init__(self, x: np.ndarray, reference: np.ndarray, task: Task, from_logits: bool) -> None:
        self.x, self.reference, self.task, self.from_logits = x, reference, task, from_logits

    def measure(self, forward: Forward) -> dict[str, Any]:
        outputs = np.concatenate(
            [forward(self.x[i : i + 256]) for i in range(0, len(self.x), 256)]
        ).reshape(self.reference.shape)
        diff = np.abs(outputs.astype(np.float64) - self.reference)
        # None when some output is not finite: JSON (and PostgreSQL) have no infinity.
        finite = bool(np.isfinite(diff).all())
        max_abs_diff = (float(diff.max()) if diff.size else 0.0) if finite else None
        agreement = None
        if self.task != Task.REGRESSION:
            ours = predicted_labels(outputs, self.task, self.from_logits)
            theirs = predicted_labels(self.reference, self.task, self.from_logits)
            same = (ours == theirs).reshape(len(ours), -1).all(axis=1)
            agreement = float(same.mean()) if len(same) else 1.0
        return {
            "max_abs_diff": max_abs_diff,
            "label_agreement": agreement,
            "examples": len(self.x),
        }

    @staticmethod
    def problem(measured: dict[str, Any]) -> str | None:
        if measured["max_abs_diff"] is None:
            return "some outputs are not finite numbers where Keras' are"
        diff, agreement = measured["max_abs_diff"], measured["label_agreement"]
        if diff > MAX_ABS_DIFF:
            return f"outputs differ from Keras' by up to {diff:.3g} (limit {MAX_ABS_DIFF:g})"
        if agreement is not None and agreement < 1.0:
            return f"labels agree with Keras' on only {agreement:.2%} of the test split"
        return None


def _export(model: keras.Model, fmt: ModelFormat, run_dir: Path, check: _Check) -> dict[str, Any]:
    name = FORMAT_FILES[fmt]
    run = runtime(RUNTIME_OF_FORMAT[fmt])
    shape = (int(check.x.shape[1]), int(check.x.shape[2]))
    try:
        sha256, size = write_atomically(run_dir, name, lambda p: _write(model, fmt, p, shape))
    except Exception as exc:
        log.warning("%s export failed", fmt, exc_info=True)
        return _unavailable(f"the {fmt} export failed: {type(exc).__name__}: {_first_line(exc)}")
    try:
        network = run.load(run_dir / name, shape)
        measured = check.measure(network.forward)
    except Exception as exc:
        (run_dir / name).unlink(missing_ok=True)
        log.warning("%s export cannot be run by %s", fmt, run.name, exc_info=True)
        return _unavailable(
            f"{run.name} cannot run the {fmt} export: {type(exc).__name__}: {_first_line(exc)}"
        )
    problem = check.problem(measured)
    if problem is not None:
        (run_dir / name).unlink(missing_ok=True)
        return _unavailable(f"the {fmt} export disagrees with Keras: {problem}") | measured
    return {
        "status": "available",
        "file": name,
        "sha256": sha256,
        "bytes": size,
        "runtime": run.name,
        **measured,
    }


def _write(model: keras.Model, fmt: ModelFormat, path: Path, shape: tuple[int, int]) -> None:
    # An explicit signature: a model loaded from .keras has none until it is called, and it
    # names the input.
    signature = [tf.TensorSpec((None, *shape, 1), tf.float32, name=INPUT_NAME)]
    model.export(str(path), format=_KERAS_FORMAT[fmt], input_signature=signature, verbose=False)


def _unavailable(reason: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason[:1000]}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
