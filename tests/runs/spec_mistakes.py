"""The mistake table of tests/runs/test_spec_errors.py: accepted base specs, and each case
as the base with exactly one mistake and the pointer the answer must name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Spec = dict[str, Any]


def binary_spec() -> Spec:
    """Zero vs one on mnist-5k with a small dense network (valid as is)."""
    return {
        "name": "zero-vs-one",
        "dataset": {"name": "mnist-5k", "classes": [0, 1], "test_fraction": 0.2},
        "model": {
            "layers": [
                {"type": "dense", "units": 25, "activation": "relu"},
                {"type": "dense", "units": 15, "activation": "relu"},
                {"type": "dense", "units": 1, "activation": "sigmoid"},
            ]
        },
        "training": {
            "optimizer": {"type": "adam", "learning_rate": 0.001},
            "loss": {"type": "binary_crossentropy"},
            "epochs": 2,
            "batch_size": 32,
        },
    }


def digits_spec() -> Spec:
    """All ten classes of the 8x8 digits with a dense network (valid as is)."""
    return {
        "dataset": {"name": "digits"},
        "model": {
            "layers": [
                {"type": "dense", "units": 32, "activation": "relu"},
                {"type": "dense", "units": 10, "activation": "softmax"},
            ]
        },
        "training": {"loss": "sparse_categorical_crossentropy", "epochs": 2},
    }


def conv_spec() -> Spec:
    """A small CNN on the 8x8 digits (valid as is); no flatten is prepended."""
    return {
        "dataset": {"name": "digits"},
        "model": {
            "layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                {"type": "max_pool2d", "pool_size": 2},
                {"type": "flatten"},
                {"type": "dense", "units": 10, "activation": "softmax"},
            ]
        },
        "training": {"loss": "sparse_categorical_crossentropy", "epochs": 2},
    }


def edit(base: Callable[[], Spec], change: Callable[[Spec], Any]) -> Spec:
    spec = copy.deepcopy(base())
    change(spec)
    return spec


def layers(spec: Spec) -> list[dict[str, Any]]:
    return spec["model"]["layers"]


# (id, spec, expected pointer)
CASES: list[tuple[str, Spec, str]] = [
    # --- caught by the schema -------------------------------------------------------------
    (
        "unknown-layer-type",
        edit(binary_spec, lambda s: layers(s)[1].update(type="lstm")),
        "/model/layers/1/type",
    ),
    (
        "layer-without-type",
        edit(binary_spec, lambda s: layers(s)[0].pop("type")),
        "/model/layers/0/type",
    ),
    (
        "bad-activation",
        edit(binary_spec, lambda s: layers(s)[2].update(activation="gelu")),
        "/model/layers/2/activation",
    ),
    (
        "units-zero",
        edit(binary_spec, lambda s: layers(s)[0].update(units=0)),
        "/model/layers/0/units",
    ),
    (
        "units-fractional",
        edit(binary_spec, lambda s: layers(s)[1].update(units=2.5)),
        "/model/layers/1/units",
    ),
    ("extra-top-level-field", edit(binary_spec, lambda s: s.update(epochs=5)), "/epochs"),
    (
        "extra-layer-field",
        edit(binary_spec, lambda s: layers(s)[0].update(kernel_size=3)),
        "/model/layers/0/kernel_size",
    ),
    ("missing-loss", edit(binary_spec, lambda s: s["training"].pop("loss")), "/training/loss"),
    ("missing-dataset", edit(binary_spec, lambda s: s.pop("dataset")), "/dataset"),
    (
        "epochs-zero",
        edit(binary_spec, lambda s: s["training"].update(epochs=0)),
        "/training/epochs",
    ),
    (
        "dropout-rate-one",
        edit(binary_spec, lambda s: layers(s).insert(1, {"type": "dropout", "rate": 1.0})),
        "/model/layers/1/rate",
    ),
    (
        "learning-rate-negative",
        edit(binary_spec, lambda s: s["training"]["optimizer"].update(learning_rate=-0.01)),
        "/training/optimizer/learning_rate",
    ),
    (
        "unknown-loss-shorthand",
        edit(binary_spec, lambda s: s["training"].update(loss="hinge")),
        "/training/loss/type",
    ),
    (
        "from-logits-not-bool",
        edit(binary_spec, lambda s: s["training"]["loss"].update(from_logits="maybe")),
        "/training/loss/from_logits",
    ),
    (
        "test-fraction-too-large",
        edit(binary_spec, lambda s: s["dataset"].update(test_fraction=0.9)),
        "/dataset/test_fraction",
    ),
    (
        "unknown-optimizer",
        edit(binary_spec, lambda s: s["training"]["optimizer"].update(type="adamw")),
        "/training/optimizer/type",
    ),
    (
        "class-not-an-int",
        edit(binary_spec, lambda s: s["dataset"].update(classes=[0, "one"])),
        "/dataset/classes/1",
    ),
    (
        "unknown-metric",
        edit(binary_spec, lambda s: s["training"].update(metrics=["accuracy", "f1"])),
        "/training/metrics/1",
    ),
    (
        "empty-layer-list",
        edit(binary_spec, lambda s: s["model"].update(layers=[])),
        "/model/layers",
    ),
    # --- caught by the semantic checks ----------------------------------------------------
    (
        "unknown-dataset",
        edit(binary_spec, lambda s: s["dataset"].update(name="fashion-mnist")),
        "/dataset/name",
    ),
    (
        "unknown-class",
        edit(binary_spec, lambda s: s["dataset"].update(classes=[0, 12])),
        "/dataset/classes/1",
    ),
    (
        "duplicate-classes",
        edit(binary_spec, lambda s: s["dataset"].update(classes=[3, 3])),
        "/dataset/classes",
    ),
    (
        "single-class",
        edit(binary_spec, lambda s: s["dataset"].update(classes=[7])),
        "/dataset/classes",
    ),
    (
        "empty-class-list-for-regression",
        edit(
            binary_spec,
            lambda s: (
                s["dataset"].update(classes=[], target="value"),
                s["training"].update(loss="mean_squared_error"),
                layers(s)[2].update(activation="linear"),
            ),
        ),
        "/dataset/classes",
    ),
    (
        "output-units-not-number-of-classes",
        edit(
            digits_spec,
            lambda s: (s["dataset"].update(classes=[0, 1, 2]), layers(s)[1].update(units=4)),
        ),
        "/model/layers/1/units",
    ),
    (
        "binary-ce-one-unit-ten-classes",
        edit(
            digits_spec,
            lambda s: (
                layers(s)[1].update(units=1, activation="sigmoid"),
                s["training"].update(loss="binary_crossentropy"),
            ),
        ),
        "/model/layers/1/units",
    ),
    (
        "binary-ce-with-ten-units",
        edit(digits_spec, lambda s: s["training"].update(loss="binary_crossentropy")),
        "/training/loss/type",
    ),
    (
        "softmax-output-with-from-logits",
        edit(
            digits_spec,
            lambda s: s["training"].update(
                loss={"type": "sparse_categorical_crossentropy", "from_logits": True}
            ),
        ),
        "/training/loss/from_logits",
    ),
    (
        "softmax-over-one-unit",
        edit(binary_spec, lambda s: layers(s)[2].update(activation="softmax")),
        "/model/layers/2/activation",
    ),
    (
        "conv2d-after-flatten",
        edit(conv_spec, lambda s: layers(s).insert(3, {"type": "conv2d", "filters": 2})),
        "/model/layers/3",
    ),
    (
        "conv2d-after-dense",
        edit(digits_spec, lambda s: layers(s).insert(1, {"type": "conv2d", "filters": 2})),
        "/model/layers/1",
    ),
    (
        "dense-after-conv2d-without-flatten",
        edit(conv_spec, lambda s: layers(s).pop(2)),
        "/model/layers/2",
    ),
    (
        "kernel-larger-than-8x8-input",
        edit(conv_spec, lambda s: layers(s)[0].update(kernel_size=9)),
        "/model/layers/0/kernel_size",
    ),
    (
        "pool-larger-than-feature-map",
        edit(conv_spec, lambda s: layers(s)[1].update(pool_size=7)),
        "/model/layers/1/pool_size",
    ),
    (
        "regression-loss-with-label-target",
        edit(digits_spec, lambda s: s["training"].update(loss="mean_squared_error")),
        "/training/loss/type",
    ),
    (
        "classification-loss-with-value-target",
        edit(
            digits_spec,
            lambda s: (
                s["dataset"].update(target="value"),
                layers(s)[1].update(units=1, activation="linear"),
            ),
        ),
        "/training/loss/type",
    ),
    (
        "multilabel-wrong-units",
        edit(
            digits_spec,
            lambda s: (
                s["dataset"].update(target="multilabel"),
                layers(s)[1].update(activation="sigmoid"),
                s["training"].update(loss="binary_crossentropy"),
            ),
        ),
        "/model/layers/1/units",
    ),
    (
        "epochs-over-cap",
        edit(binary_spec, lambda s: s["training"].update(epochs=501)),
        "/training/epochs",
    ),
    (
        "batch-size-over-cap",
        edit(binary_spec, lambda s: s["training"].update(batch_size=100_000)),
        "/training/batch_size",
    ),
    (
        "parameters-over-cap",
        edit(binary_spec, lambda s: layers(s)[0].update(units=8192)),
        "/model/layers",
    ),
    (
        "last-layer-dropout",
        edit(digits_spec, lambda s: layers(s).append({"type": "dropout", "rate": 0.5})),
        "/model/layers/2",
    ),
    (
        "ends-in-feature-map",
        edit(conv_spec, lambda s: (layers(s).pop(), layers(s).pop())),
        "/model/layers/1",
    ),
]
