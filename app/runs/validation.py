"""Semantic checks of a run spec, done in the API process without TensorFlow.

A shape walk through the layers catches what Keras would only report minutes later in a
worker; every problem is collected so the user gets all of them in one answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.errors import FieldError, InvalidSpec
from app.runs.spec import (
    Conv2DLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    MaxPool2DLayer,
    RunSpec,
)
from app.settings import Settings
from app.training.datasets import CATALOG, MULTILABEL_NAMES

CLASSIFICATION_LOSSES = {"binary_crossentropy", "sparse_categorical_crossentropy",
                         "categorical_crossentropy"}
REGRESSION_LOSSES = {"mean_squared_error", "mean_absolute_error"}


@dataclass
class Checked:
    spec: RunSpec
    warnings: list[FieldError] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    offset: int = 0  # layers the service prepended; pointers keep the user's own indices

    def layer_at(self, index: int) -> str:
        return f"/model/layers/{index - self.offset}"

    def error(self, pointer: str, message: str, hint: str) -> None:
        self.errors.append(FieldError(pointer, message, hint))

    def warn(self, pointer: str, message: str, hint: str) -> None:
        self.warnings.append(FieldError(pointer, message, hint))


def task_of(spec: RunSpec | dict[str, Any]) -> str:
    """binary, multiclass, multilabel or regression: decides the output layer and the answer."""
    data = spec if isinstance(spec, dict) else spec.model_dump()
    target = data["dataset"].get("target", "label")
    if target == "multilabel":
        return "multilabel"
    if target == "value":
        return "regression"
    return "binary" if data["model"]["layers"][-1].get("units") == 1 else "multiclass"


def check_spec(spec: RunSpec, settings: Settings) -> tuple[RunSpec, list[FieldError]]:
    """The normalised spec and its warnings; raises InvalidSpec with every problem found."""
    checked = Checked(spec.model_copy(deep=True))
    classes = _check_dataset(checked)
    _check_caps(checked, settings)
    if spec.dataset.name in CATALOG:
        # The shape walk needs only the dataset's input shape, so a bad class list must not
        # hide layer mistakes: the user gets all of them in one answer.
        _normalise_input(checked)
        _walk_shapes(checked, settings)
        if classes is not None:
            _check_output(checked, classes)
    _check_training(checked)
    if checked.errors:
        raise InvalidSpec(checked.errors)
    return checked.spec, checked.warnings


def _check_dataset(c: Checked) -> list[int] | None:
    ds = c.spec.dataset
    info = CATALOG.get(ds.name)
    if info is None:
        c.error("/dataset/name", f"unknown dataset {ds.name!r}",
                f"use one of: {', '.join(CATALOG)} (GET /v1/datasets lists them)")
        return None
    if ds.classes is None:
        ds.classes = list(info.classes)
        return ds.classes
    ok = True
    if not ds.classes:
        # load_split treats [] as "every class", so the normalised spec would not say what is trained.
        c.error("/dataset/classes", "the class list is empty",
                "list the classes to keep, or leave classes out to use all of them")
        return None
    for i, label in enumerate(ds.classes):
        if label not in info.classes:
            c.error(f"/dataset/classes/{i}", f"{ds.name} has no class {label}",
                    f"use labels from {list(info.classes)}")
            ok = False
    if len(set(ds.classes)) != len(ds.classes):
        c.error("/dataset/classes", "classes are listed more than once", "list each class once")
        ok = False
    if len(ds.classes) < 2 and ds.target == "label":
        c.error("/dataset/classes", "a classifier needs at least two classes",
                "list two or more classes, e.g. [0, 1]")
        ok = False
    return ds.classes if ok else None


def _check_caps(c: Checked, s: Settings) -> None:
    t = c.spec.training
    if t.epochs > s.max_epochs:
        c.error("/training/epochs", f"{t.epochs} epochs is over this service's cap of {s.max_epochs}",
                f"use at most {s.max_epochs} epochs")
    if t.batch_size > s.max_batch_size:
        c.error("/training/batch_size", f"batch size {t.batch_size} is over the cap of "
                f"{s.max_batch_size}", f"use at most {s.max_batch_size}")
    if len(c.spec.model.layers) > s.max_layers:
        c.error("/model/layers", f"{len(c.spec.model.layers)} layers is over the cap of "
                f"{s.max_layers}", f"use at most {s.max_layers} layers")
    if t.max_seconds is not None and t.max_seconds > s.max_run_seconds:
        c.error("/training/max_seconds", f"{t.max_seconds:g} s is over the service's cap of "
                f"{s.max_run_seconds:g} s", f"use at most {s.max_run_seconds:g}")


def _normalise_input(c: Checked) -> None:
    model = c.spec.model
    height, width = CATALOG[c.spec.dataset.name].shape
    model.input_shape = [height, width]
    # Dense layers see vectors: say so in the spec instead of reshaping silently.
    if isinstance(model.layers[0], DenseLayer):
        model.layers.insert(0, FlattenLayer(type="flatten"))
        c.offset = 1


def _walk_shapes(c: Checked, s: Settings) -> None:
    layers = c.spec.model.layers
    shape: tuple[int, ...] = (*c.spec.model.input_shape, 1)  # type: ignore[misc]
    params = 0
    for i, layer in enumerate(layers):
        at = c.layer_at(i)
        if isinstance(layer, FlattenLayer):
            shape = (math.prod(shape),)
        elif isinstance(layer, DenseLayer):
            if len(shape) != 1:
                c.error(at, f"dense layer gets a {_fmt(shape)} feature map, not a vector",
                        'insert {"type": "flatten"} before it')
                return
            params += shape[0] * layer.units + layer.units
            shape = (layer.units,)
        elif isinstance(layer, Conv2DLayer | MaxPool2DLayer):
            if len(shape) != 3:
                c.error(at, f"{layer.type} needs an image-shaped input, but gets {_fmt(shape)}",
                        "put convolution and pooling layers before flatten and dense layers")
                return
            new = _window(c, at, layer, shape)
            if new is None:
                return
            if isinstance(layer, Conv2DLayer):
                params += layer.kernel_size**2 * shape[2] * layer.filters + layer.filters
            shape = new
        elif isinstance(layer, DropoutLayer):
            pass
    if len(shape) != 1:
        c.error(c.layer_at(len(layers) - 1), f"the network ends in a {_fmt(shape)} "
                "feature map", 'end with {"type": "flatten"} and a dense output layer')
    if params > s.max_parameters:
        c.error("/model/layers", f"the network has {params:,} parameters, over the cap of "
                f"{s.max_parameters:,}", "use fewer units or filters, or pool earlier")


def _window(c: Checked, at: str, layer: Conv2DLayer | MaxPool2DLayer,
            shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    h, w, ch = shape
    if isinstance(layer, Conv2DLayer):
        size, stride, padding, out_ch, field_ = (layer.kernel_size, layer.strides, layer.padding,
                                                 layer.filters, "kernel_size")
    else:
        size, stride, padding, out_ch, field_ = layer.pool_size, layer.pool_size, "valid", ch, "pool_size"
    if padding == "same":
        return (math.ceil(h / stride), math.ceil(w / stride), out_ch)
    if size > h or size > w:
        c.error(f"{at}/{field_}", f"{field_} {size} is larger than its {h}x{w} input",
                f'use {field_} <= {min(h, w)}, or padding "same" earlier')
        return None
    return ((h - size) // stride + 1, (w - size) // stride + 1, out_ch)


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _check_output(c: Checked, classes: list[int]) -> None:
    layers = c.spec.model.layers
    last_at = c.layer_at(len(layers) - 1)
    last = layers[-1]
    if not isinstance(last, DenseLayer):
        c.error(last_at, f"the output layer is {last.type}", "end with a dense layer")
        return
    loss = c.spec.training.loss
    target = c.spec.dataset.target
    n = len(classes)
    if target == "value":
        if loss.type not in REGRESSION_LOSSES:
            c.error("/training/loss/type", f"{loss.type} is a classification loss, but the target is "
                    "a value", "use mean_squared_error for regression")
        if last.units != 1:
            c.error(f"{last_at}/units", f"regression predicts one value, not {last.units}",
                    "use units: 1")
        if last.activation in ("sigmoid", "softmax"):
            c.error(f"{last_at}/activation", f"{last.activation} squeezes the output into [0, 1], "
                    "but the values are larger", 'use "linear" (any sign) or "relu" (non-negative)')
        return
    if loss.type in REGRESSION_LOSSES:
        c.error("/training/loss/type", f"{loss.type} is a regression loss but dataset.target is "
                f"{target!r}", 'set dataset.target to "value", or use a cross-entropy loss')
        return
    if target == "multilabel":
        k = len(MULTILABEL_NAMES)
        if loss.type != "binary_crossentropy":
            c.error("/training/loss/type", "multi-label outputs are independent yes/no answers",
                    "use binary_crossentropy")
        if last.units != k:
            c.error(f"{last_at}/units", f"the multilabel target has {k} labels "
                    f"({', '.join(MULTILABEL_NAMES)}), the output has {last.units} units",
                    f"use units: {k}")
    elif last.units == 1:
        if n != 2:
            c.error(f"{last_at}/units", f"one output unit can only tell two classes apart, "
                    f"the dataset has {n}", f"use units: {n} with softmax, or keep two classes")
        if loss.type != "binary_crossentropy":
            c.error("/training/loss/type", f"{loss.type} needs one output per class",
                    "use binary_crossentropy with a single sigmoid unit")
        if last.activation == "softmax":
            c.error(f"{last_at}/activation", "softmax over one unit always outputs 1",
                    'use "sigmoid"')
    else:
        if last.units != n:
            c.error(f"{last_at}/units", f"the output has {last.units} units for {n} classes",
                    f"use units: {n}")
        if loss.type == "binary_crossentropy":
            c.error("/training/loss/type", "binary_crossentropy with one unit per class treats the "
                    "classes as independent", "use sparse_categorical_crossentropy")
        if last.activation == "sigmoid" and loss.type != "binary_crossentropy":
            c.warn(f"{last_at}/activation", "sigmoid outputs do not sum to 1 across classes",
                   'use "softmax", or "linear" with from_logits: true')
    _check_logits(c, last, last_at)


def _check_logits(c: Checked, last: DenseLayer, last_at: str) -> None:
    loss = c.spec.training.loss
    if loss.from_logits and last.activation in ("softmax", "sigmoid"):
        c.error("/training/loss/from_logits", f"from_logits=true expects raw scores, but the output "
                f"layer applies {last.activation}", 'set the output activation to "linear", or '
                "from_logits to false")
    elif not loss.from_logits and last.activation == "linear":
        c.warn("/training/loss/from_logits", "a linear output gives raw scores (logits)",
               "set from_logits: true so the loss applies softmax/sigmoid itself")
    elif last.activation in ("relu", "tanh"):
        c.warn(f"{last_at}/activation", f"{last.activation} is an unusual output for a classifier",
               'use "softmax"/"sigmoid", or "linear" with from_logits: true')


def _check_training(c: Checked) -> None:
    layers = c.spec.model.layers
    hidden = [(i, layer) for i, layer in enumerate(layers[:-1])
              if isinstance(layer, DenseLayer | Conv2DLayer)]
    for i, layer in hidden:
        at = f"{c.layer_at(i)}/activation"
        if layer.activation == "linear":
            c.warn(at, "a linear hidden layer adds no expressive power: stacked linear layers "
                   "collapse into a single linear model", 'use "relu"')
        elif layer.activation == "sigmoid":
            c.warn(at, "sigmoid hidden layers saturate and train slowly", 'use "relu", the usual '
                   "default for hidden layers")
        elif layer.activation == "softmax":
            c.warn(at, "softmax belongs on the output layer", 'use "relu"')
    lr = c.spec.training.optimizer.learning_rate
    if not 1e-5 <= lr <= 0.1:
        c.warn("/training/optimizer/learning_rate", f"learning rate {lr:g} is far outside the "
               "usual range", "start around 0.001 for adam and rmsprop, 0.01 for sgd")
