"""Spec → compiled Keras model. Imported only in worker processes (it imports TensorFlow)."""

from __future__ import annotations

from typing import Any

import keras


def build_model(spec: dict[str, Any]) -> keras.Model:
    height, width = spec["model"]["input_shape"]
    # Always (H, W, 1): convolutions need the channel axis and flatten does not mind it.
    layers: list[keras.layers.Layer] = [keras.Input(shape=(height, width, 1))]
    layers += [_layer(layer) for layer in spec["model"]["layers"]]
    return keras.Sequential(layers, name=_safe_name(spec.get("name") or "run"))


def _layer(layer: dict[str, Any]) -> keras.layers.Layer:
    kind = layer["type"]
    if kind == "dense":
        return keras.layers.Dense(layer["units"], activation=layer["activation"])
    if kind == "conv2d":
        return keras.layers.Conv2D(layer["filters"], layer["kernel_size"], strides=layer["strides"],
                                   padding=layer["padding"], activation=layer["activation"])
    if kind == "max_pool2d":
        return keras.layers.MaxPooling2D(layer["pool_size"])
    if kind == "flatten":
        return keras.layers.Flatten()
    if kind == "dropout":
        return keras.layers.Dropout(layer["rate"])
    raise ValueError(f"unknown layer type {kind!r}")  # the spec schema makes this unreachable


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "run"


def build_optimizer(spec: dict[str, Any]) -> keras.optimizers.Optimizer:
    opt = spec["training"]["optimizer"]
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
           "rmsprop": keras.optimizers.RMSprop}[opt["type"]]
    return cls(learning_rate=opt["learning_rate"])


def build_loss(spec: dict[str, Any]) -> keras.losses.Loss:
    loss = spec["training"]["loss"]
    kind, logits = loss["type"], loss["from_logits"]
    if kind == "binary_crossentropy":
        return keras.losses.BinaryCrossentropy(from_logits=logits)
    if kind == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    if kind == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(from_logits=logits)
    if kind == "mean_absolute_error":
        return keras.losses.MeanAbsoluteError()
    return keras.losses.MeanSquaredError()


def build_metrics(spec: dict[str, Any]) -> list[Any]:
    """Accuracy that matches the output: Keras' string "accuracy" guesses wrong for logits."""
    loss = spec["training"]["loss"]
    out: list[Any] = []
    for name in spec["training"]["metrics"]:
        if name != "accuracy":
            out.append(name)
        elif loss["type"] == "sparse_categorical_crossentropy":
            out.append(keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
        elif loss["type"] == "categorical_crossentropy":
            out.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
        elif loss["type"] == "binary_crossentropy":
            threshold = 0.0 if loss["from_logits"] else 0.5
            out.append(keras.metrics.BinaryAccuracy(name="accuracy", threshold=threshold))
    return out


def compile_model(spec: dict[str, Any]) -> keras.Model:
    model = build_model(spec)
    model.compile(optimizer=build_optimizer(spec), loss=build_loss(spec), metrics=build_metrics(spec))
    return model
