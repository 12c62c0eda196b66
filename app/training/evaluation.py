"""Held-out evaluation: loss, accuracy and a confusion matrix in the dataset's own labels."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from app.datasets.catalog import MULTILABEL_NAMES
from app.enums import Task
from app.runs.spec import task_of
from app.training.data import TrainingData

MISCLASSIFIED_KEPT = 64  # enough for a gallery, small enough for the evaluation JSON column


def evaluate(model: keras.Model, spec: dict[str, Any], data: TrainingData) -> dict[str, Any]:
    scores = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0, return_dict=True)
    result: dict[str, Any] = {
        "num_examples": len(data.x_test),
        **{k: float(v) for k, v in scores.items()},
    }
    outputs = np.asarray(model.predict(data.x_test, batch_size=512, verbose=0))
    logits = spec["training"]["loss"]["from_logits"]
    task = task_of(spec)
    if task == Task.REGRESSION:
        err = outputs[:, 0] - data.y_test
        result["mae"] = float(np.mean(np.abs(err)))
        result["rmse"] = float(np.sqrt(np.mean(err**2)))
        return result
    if task == Task.MULTILABEL:
        predicted = predicted_labels(outputs, task, logits).astype(bool)
        truth = data.y_test.astype(bool)
        result["labels"] = list(spec["dataset"].get("label_names") or MULTILABEL_NAMES)
        result["confusion_matrix"] = [
            _matrix(truth[:, j].astype(int), predicted[:, j].astype(int), 2)
            for j in range(truth.shape[1])
        ]
        return result
    truth = data.y_test.argmax(axis=1) if data.y_test.ndim == 2 else data.y_test.astype(int)
    predicted = predicted_labels(outputs, task, logits)
    confidence = _confidence(outputs, task, logits, predicted)
    result["labels"] = list(data.classes)
    result["confusion_matrix"] = _matrix(truth, predicted, len(data.classes))
    result["accuracy"] = float(np.mean(truth == predicted))
    result["misclassified"] = _misclassified(truth, predicted, confidence, data.classes)
    return result


def predicted_labels(outputs: np.ndarray, task: Task, from_logits: bool) -> np.ndarray:
    """Unit indices the network predicts: (N,) for multiclass and binary, (N, C) 0/1 for
    multilabel. Not defined for regression."""
    if task == Task.MULTILABEL:
        return (outputs >= (0.0 if from_logits else 0.5)).astype(int)
    if task == Task.BINARY:
        return (outputs[:, 0] >= (0.0 if from_logits else 0.5)).astype(int)
    return outputs.argmax(axis=1)  # type: ignore[no-any-return]


def _confidence(
    outputs: np.ndarray, task: Task, from_logits: bool, predicted: np.ndarray
) -> np.ndarray:
    """The probability the network gave its own answer, per example (single-label tasks)."""
    if task == Task.BINARY:
        p1 = 1 / (1 + np.exp(-outputs[:, 0])) if from_logits else outputs[:, 0]
        return np.asarray(np.where(predicted == 1, p1, 1 - p1))
    probs = _softmax(outputs) if from_logits else outputs
    return np.asarray(probs[np.arange(len(predicted)), predicted])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _misclassified(
    truth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, classes: list[int]
) -> list[dict[str, Any]]:
    """The most confidently wrong test examples first: those say most about the model.

    Only indices into the test split are kept (see app/runs/misclassified.py for the images).
    """
    wrong = np.flatnonzero(truth != predicted)
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:MISCLASSIFIED_KEPT]
    return [
        {
            "index": int(i),
            "label": int(classes[truth[i]]),
            "predicted": int(classes[predicted[i]]),
            "confidence": round(float(confidence[i]), 4),
        }
        for i in worst
    ]


def _matrix(truth: np.ndarray, predicted: np.ndarray, n: int) -> list[list[int]]:
    """Rows are true labels, columns predicted ones (scikit-learn's convention)."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (truth, predicted), 1)
    return m.tolist()
