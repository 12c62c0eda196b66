"""A trained run's model, verified, loaded by its runtime, and the answers it gives.

The runtime (ONNX Runtime, LiteRT or Keras, see ``app.runtimes``) is imported only
when a model is loaded, so importing this module (for types, or from the API process) stays
cheap, and a process that loads only exported models never imports TensorFlow.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.datasets.catalog import CATALOG, MULTILABEL_NAMES
from app.enums import Task
from app.errors import Conflict
from app.runs.spec import task_of
from app.runtimes import Forward, Network, Runtime, for_path
from app.training.artifacts import file_sha256


@dataclass(frozen=True)
class Head:
    """What the output layer means: the task, the dataset label of each unit, logits or not."""

    task: Task
    classes: tuple[int, ...]
    units: int
    from_logits: bool
    label_names: tuple[str, ...] = MULTILABEL_NAMES  # multilabel: what each unit answers

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Head:
        dataset = spec["dataset"]
        classes = dataset.get("classes")
        if classes is None:  # specs stored before classes were always filled in
            classes = CATALOG[dataset["name"]].classes
        return cls(
            task=task_of(spec),
            classes=tuple(int(c) for c in classes),
            units=int(spec["model"]["layers"][-1]["units"]),
            from_logits=bool(spec["training"]["loss"].get("from_logits", False)),
            label_names=tuple(dataset.get("label_names") or MULTILABEL_NAMES),
        )

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities per unit (or the regression value) from the network's raw output."""
        if self.task == Task.REGRESSION:
            return raw
        if self.task == Task.MULTICLASS:
            return _softmax(raw) if self.from_logits else _normalise(raw)
        # Without from_logits Keras' loss clipped the outputs to [0, 1]: read them the same way.
        return _sigmoid(raw) if self.from_logits else np.clip(raw, 0.0, 1.0)


class Predictor:
    """Answers for one run. Safe to call from many threads at once: every runtime's forward
    pass is (see app.runtimes)."""

    def __init__(
        self,
        forward: Forward,
        head: Head,
        input_shape: tuple[int, int],
        run_id: str,
        name: str,
        runtime: str = "keras",
    ) -> None:
        self._forward = forward
        self.head = head
        self.input_shape = input_shape
        self.run_id = run_id
        self.name = name
        self.runtime = runtime  # which runtime answers: onnxruntime, litert or keras
        self.forward_seconds = float("inf")  # one image, measured by load(); decides inlining

    @classmethod
    def load(
        cls,
        path: Path,
        expected_sha256: str,
        spec: dict[str, Any],
        run_id: str,
        name: str,
        runtime: Runtime | None = None,
    ) -> Predictor:
        """Verify the file's checksum, then load it with ``runtime`` (by default the one its
        suffix names), check it against the spec and warm up."""
        verify_checksum(path, expected_sha256, run_id)
        head = Head.from_spec(spec)
        input_shape = _input_shape(spec)
        network = _load_network(runtime or for_path(path), path, input_shape, run_id)
        _check_model_matches(network, input_shape, head.units, run_id)
        predictor = cls(network.forward, head, input_shape, run_id, name, network.runtime)
        predictor.forward_seconds = predictor._time_single_image()
        return predictor

    def predict(self, batch: np.ndarray) -> list[dict[str, Any]]:
        """One answer per instance, shaped by the task (see docs/api.md, Prediction).

        binary: ``probability`` is the probability of the dataset's *second* class
        (``classes[1]``), whatever ``label`` is, so it reads the same for every answer.
        """
        scores = self._scores(batch)
        return [_ANSWERS[self.head.task](self.head, row) for row in scores]

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        """(N, C) float32 class probabilities; binary gives C=2 columns [1 - p, p]."""
        scores = self._scores(batch)
        if self.head.task == Task.BINARY:
            return np.column_stack([1.0 - scores[:, 0], scores[:, 0]]).astype(np.float32)
        self._refuse_regression("class probabilities")
        return scores

    def labels(self, batch: np.ndarray) -> np.ndarray:
        """int64 dataset labels, shape (N,); multilabel: (N, C) yes/no indicators."""
        scores = self._scores(batch)
        classes = np.asarray(self.head.classes, dtype=np.int64)
        if self.head.task == Task.BINARY:
            return classes[(scores[:, 0] >= 0.5).astype(np.int64)]
        if self.head.task == Task.MULTICLASS:
            return classes[scores.argmax(axis=1)]
        self._refuse_regression("labels")
        return (scores >= 0.5).astype(np.int64)

    def values(self, batch: np.ndarray) -> np.ndarray:
        """(N,) float32 predicted values of a regression model."""
        if self.head.task != Task.REGRESSION:
            raise Conflict(
                f"Run {self.run_id} is a {self.head.task} classifier, so it has no "
                "regression values; ask for its probabilities or labels instead."
            )
        return self._scores(batch)[:, 0]

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim != 3 or batch.shape[1:] != self.input_shape:
            raise ValueError(
                f"batch must be (N, {self.input_shape[0]}, {self.input_shape[1]}), "
                f"got {batch.shape}"
            )
        raw = self._forward(np.ascontiguousarray(batch, dtype=np.float32)[..., np.newaxis])
        return self.head.scores(raw).astype(np.float32, copy=False)

    def _time_single_image(self) -> float:
        """Median of a few single-image calls, after a warm-up call."""
        image = np.zeros((1, *self.input_shape), dtype=np.float32)
        self._scores(image)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            self._scores(image)
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    def _refuse_regression(self, what: str) -> None:
        if self.head.task == Task.REGRESSION:
            raise Conflict(
                f"Run {self.run_id} is a regression model: it predicts a value, not "
                f"{what}. Ask for its value output instead."
            )


# --- answers ------------------------------------------------------------------------------


def _multiclass_answer(head: Head, probs: np.ndarray) -> dict[str, Any]:
    return {"label": head.classes[int(probs.argmax())], "probabilities": probs.tolist()}


def _binary_answer(head: Head, probs: np.ndarray) -> dict[str, Any]:
    p = float(probs[0])
    # ``probability`` is the contract's (of the second class): {"label": 0, "probability":
    # 0.02} is a sure 0, which ``confidence`` (of the answered label) says in so many words.
    if p >= 0.5:
        return {"label": head.classes[1], "probability": p, "confidence": p}
    return {"label": head.classes[0], "probability": p, "confidence": 1.0 - p}


def _multilabel_answer(head: Head, probs: np.ndarray) -> dict[str, Any]:
    return {
        "labels": [n for n, p in zip(head.label_names, probs, strict=True) if p >= 0.5],
        "probabilities": probs.tolist(),
        "label_names": head.label_names,  # what each probability is of (a tuple: immutable)
    }


def _regression_answer(_: Head, value: np.ndarray) -> dict[str, Any]:
    return {"value": float(value[0])}


_ANSWERS: dict[Task, Callable[[Head, np.ndarray], dict[str, Any]]] = {
    Task.MULTICLASS: _multiclass_answer,
    Task.BINARY: _binary_answer,
    Task.MULTILABEL: _multilabel_answer,
    Task.REGRESSION: _regression_answer,
}


# --- loading ------------------------------------------------------------------------------


def verify_checksum(path: Path, expected: str, run_id: str) -> None:
    try:
        actual = file_sha256(path)
    except FileNotFoundError as exc:
        raise Conflict(
            f"The model file of run {run_id} is missing: it was removed after "
            "training. Retrain the run to serve it again."
        ) from exc
    if not hmac.compare_digest(actual, expected.strip().lower()):
        raise Conflict(
            f"The model file of run {run_id} is not the one training produced (sha256 "
            f"{actual[:12]}..., recorded {expected[:12]}...): it was changed or replaced, so it "
            "is not loaded. Restore the original file or retrain the run."
        )


def _input_shape(spec: dict[str, Any]) -> tuple[int, int]:
    shape = spec["model"].get("input_shape") or CATALOG[spec["dataset"]["name"]].shape
    return int(shape[0]), int(shape[1])


def _load_network(
    runtime: Runtime, path: Path, input_shape: tuple[int, int], run_id: str
) -> Network:
    try:
        return runtime.load(path, input_shape)
    except Exception as exc:  # each runtime raises its own types for a bad file; all mean this
        raise Conflict(
            f"The model file of run {run_id} could not be loaded by {runtime.name} "
            f"({type(exc).__name__}: {exc}). Retrain the run."
        ) from exc


def _check_model_matches(
    network: Network, input_shape: tuple[int, int], units: int, run_id: str
) -> None:
    expected_in, expected_out = (*input_shape, 1), units
    actual_in, actual_out = network.input_shape, network.units
    if actual_in != expected_in or actual_out != expected_out:
        raise Conflict(
            f"The model file of run {run_id} takes {actual_in} and outputs {actual_out} values, "
            f"but the run's spec says {expected_in} and {expected_out}: the file belongs to "
            "another model. Retrain the run."
        )


# --- maths --------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -logits))  # no overflow for large negative logits


def _normalise(outputs: np.ndarray) -> np.ndarray:
    # Keras' categorical losses divide non-logit outputs by their sum; softmax is unchanged.
    clipped = np.clip(outputs, 0.0, None)
    total = clipped.sum(axis=1, keepdims=True)
    uniform = np.full_like(clipped, 1.0 / clipped.shape[1])
    return np.where(total > 0, clipped / np.where(total > 0, total, 1.0), uniform)
