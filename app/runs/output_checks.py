"""The output layer against the target: units, activation and loss for class labels, yes/no
columns and values, each problem at the user's own pointer (called by app.runs.validation)."""

from __future__ import annotations

from app.datasets.catalog import MULTILABEL_NAMES
from app.runs.checked import Checked
from app.runs.spec import DenseLayer

REGRESSION_LOSSES = {"mean_squared_error", "mean_absolute_error"}


def check_output(c: Checked, classes: list[int]) -> None:
    layers = c.spec.model.layers
    last_at = c.layer_at(len(layers) - 1)
    last = layers[-1]
    if not isinstance(last, DenseLayer):
        c.error(last_at, f"the output layer is {last.type}", "end with a dense layer")
        return
    loss = c.spec.training.loss
    target = c.spec.dataset.target
    if target == "value":
        _check_regression_output(c, last, last_at)
        return
    if loss.type in REGRESSION_LOSSES:
        c.error(
            "/training/loss/type",
            f"{loss.type} is a regression loss but dataset.target is {target!r}",
            'set dataset.target to "value", or use a cross-entropy loss',
        )
        return
    if target == "multilabel":
        _check_multilabel_output(c, last, last_at)
    elif last.units == 1:
        _check_binary_output(c, last, last_at, len(classes))
    else:
        _check_class_output(c, last, last_at, len(classes))
    _check_logits(c, last, last_at)


def _check_regression_output(c: Checked, last: DenseLayer, last_at: str) -> None:
    loss = c.spec.training.loss
    if loss.type not in REGRESSION_LOSSES:
        c.error(
            "/training/loss/type",
            f"{loss.type} is a classification loss, but the target is a value",
            "use mean_squared_error for regression",
        )
    if last.units != 1:
        c.error(
            f"{last_at}/units",
            f"regression predicts one value, not {last.units}",
            "use units: 1",
        )
    uploaded = c.dataset is not None and not c.dataset.builtin  # built-ins' values are 0-9
    if last.activation == "softmax" or (last.activation == "sigmoid" and not uploaded):
        c.error(
            f"{last_at}/activation",
            f"{last.activation} squeezes the output into [0, 1], but the values are larger",
            'use "linear" (any sign) or "relu" (non-negative)',
        )
    elif last.activation == "sigmoid":
        # An uploaded dataset's values may well lie in [0, 1] (e.g. normalised scores): a
        # sigmoid fits those, so the mistake is only likely, not certain.
        c.warn(
            f"{last_at}/activation",
            "sigmoid outputs lie in [0, 1]: values outside can never be predicted",
            'keep it only if every target lies in [0, 1]; else use "linear" or "relu"',
        )


def _check_multilabel_output(c: Checked, last: DenseLayer, last_at: str) -> None:
    names = c.spec.dataset.label_names or MULTILABEL_NAMES
    k = len(names)
    if c.spec.training.loss.type != "binary_crossentropy":
        c.error(
            "/training/loss/type",
            "multi-label outputs are independent yes/no answers",
            "use binary_crossentropy",
        )
    if last.units != k:
        c.error(
            f"{last_at}/units",
            f"the multilabel target has {k} labels "
            f"({', '.join(names)}), the output has {last.units} units",
            f"use units: {k}",
        )


def _check_binary_output(c: Checked, last: DenseLayer, last_at: str, n: int) -> None:
    loss = c.spec.training.loss
    if n != 2:
        c.error(
            f"{last_at}/units",
            f"one output unit can only tell two classes apart, the dataset has {n}",
            f"use units: {n} with softmax, or keep two classes",
        )
    if loss.type != "binary_crossentropy":
        c.error(
            "/training/loss/type",
            f"{loss.type} needs one output per class",
            "use binary_crossentropy with a single sigmoid unit",
        )
    if last.activation == "softmax":
        c.error(f"{last_at}/activation", "softmax over one unit always outputs 1", 'use "sigmoid"')


def _check_class_output(c: Checked, last: DenseLayer, last_at: str, n: int) -> None:
    loss = c.spec.training.loss
    if last.units != n:
        c.error(
            f"{last_at}/units",
            f"the output has {last.units} units for {n} classes",
            f"use units: {n}",
        )
    if loss.type == "binary_crossentropy":
        c.error(
            "/training/loss/type",
            "binary_crossentropy with one unit per class treats the classes as independent",
            "use sparse_categorical_crossentropy",
        )
    if last.activation == "sigmoid" and loss.type != "binary_crossentropy":
        c.warn(
            f"{last_at}/activation",
            "sigmoid outputs do not sum to 1 across classes",
            'use "softmax", or "linear" with from_logits: true',
        )


def _check_logits(c: Checked, last: DenseLayer, last_at: str) -> None:
    loss = c.spec.training.loss
    if loss.from_logits and last.activation in ("softmax", "sigmoid"):
        c.error(
            "/training/loss/from_logits",
            f"from_logits=true expects raw scores, but the output layer applies {last.activation}",
            'set the output activation to "linear", or from_logits to false',
        )
    elif not loss.from_logits and last.activation == "linear":
        c.warn(
            "/training/loss/from_logits",
            "a linear output gives raw scores (logits)",
            "set from_logits: true so the loss applies softmax/sigmoid itself",
        )
    elif last.activation in ("relu", "tanh"):
        c.warn(
            f"{last_at}/activation",
            f"{last.activation} is an unusual output for a classifier",
            'use "softmax"/"sigmoid", or "linear" with from_logits: true',
        )
