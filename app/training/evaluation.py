"""Held-out evaluation: loss, accuracy and a confusion matrix in the dataset's own labels."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from app.runs.validation import task_of
from app.training.data import TrainingData
from app.training.datasets import MULTILABEL_NAMES


def evaluate(model: keras.Model, spec: dict[str, Any], data: TrainingData) -> dict[str, Any]:
    scores = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0, return_dict=True)
    result: dict[str, Any] = {"num_examples": int(len(data.x_test)),
                              **{k: float(v) for k, v in scores.items()}}
    outputs = np.asarray(model.predict(data.x_test, batch_size=512, verbose=0))
    logits = spec["training"]["loss"]["from_logits"]
    task = task_of(spec)
    if task == "regression":
        err = outputs[:, 0] - data.y_test
        result["mae"] = float(np.mean(np.abs(err)))
        result["rmse"] = float(np.sqrt(np.mean(err**2)))
        return result
    if task == "multilabel":
        probs = 1 / (1 + np.exp(-outputs)) if logits else outputs
        predicted = probs >= 0.5
        truth = data.y_test.astype(bool)
        result["labels"] = list(MULTILABEL_NAMES)
        result["confusion_matrix"] = [_matrix(truth[:, j].astype(int), predicted[:, j].astype(int), 2)
                                      for j in range(truth.shape[1])]
        return result
    truth = data.y_test.argmax(axis=1) if data.y_test.ndim == 2 else data.y_test.astype(int)
    if task == "binary":
        predicted = (outputs[:, 0] >= (0.0 if logits else 0.5)).astype(int)
    else:
        predicted = outputs.argmax(axis=1)
    result["labels"] = list(data.classes)
    result["confusion_matrix"] = _matrix(truth, predicted, len(data.classes))
    result["accuracy"] = float(np.mean(truth == predicted))
    return result


def _matrix(truth: np.ndarray, predicted: np.ndarray, n: int) -> list[list[int]]:
    """Rows are true labels, columns predicted ones (scikit-learn's convention)."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (truth, predicted), 1)
    return m.tolist()
