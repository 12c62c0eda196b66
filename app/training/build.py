"""Spec → compiled Keras model. Imported only in worker processes (it imports TensorFlow)."""

from __future__ import annotations

from typing import Any

import keras


def build_model(spec: dict[str, Any]) -> keras.Model:
    height, width = spec["model"]["input_shape"]
    # Always (H, W, 1): convolutions need the channel axis and flatten does not mind it.
    layers: list[keras.layers.Layer] = [keras.Input(shape=(height, width, 1))]
    if spec["model"].get("flatten_input"):
        # Specs stored before flatten_input existed carry an explicit flatten layer instead.
        layers.append(keras.layers.Flatten())
    layers += [_layer(layer) for layer in spec["model"]["layers"]]
    return keras.Sequential(layers, name=_safe_name(spec.get("name") or "run"))


def _layer(layer: dict[str, Any]) -> keras.layers.Layer:
    kind = layer["type"]
    if kind == "dense":
        return keras.layers.Dense(
            layer["units"], activation=layer["activation"], kernel_regularizer=_l2(layer)
        )
    if kind == "conv2d":
        return keras.layers.Conv2D(
            layer["filters"],
            layer["kernel_size"],
            strides=layer["strides"],
            padding=layer["padding"],
            activation=layer["activation"],
            kernel_regularizer=_l2(layer),
        )
    if kind == "batch_normalization":
        return keras.layers.BatchNormalization(momentum=layer["momentum"], epsilon=layer["epsilon"])
    if kind == "max_pool2d":
        return keras.layers.MaxPooling2D(layer["pool_size"])
    if kind == "flatten":
        return keras.layers.Flatten()
    if kind == "dropout":
        return keras.layers.Dropout(layer["rate"])
    raise ValueError(f"unknown layer type {kind!r}")  # the spec schema makes this unreachable


def _l2(layer: dict[str, Any]) -> keras.regularizers.Regularizer | None:
    # .get: specs stored before the option existed have no l2 key.
    return keras.regularizers.L2(layer["l2"]) if layer.get("l2") else None


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "run"


def build_optimizer(spec: dict[str, Any], steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    opt = spec["training"]["optimizer"]
    cls = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[opt["type"]]
    return cls(learning_rate=learning_rate(spec, steps_per_epoch))


def learning_rate(
    spec: dict[str, Any], steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A constant, or a schedule of the optimizer's step count. The step count is part of the
    checkpointed optimizer state, so a resumed run continues the schedule where it was."""
    training = spec["training"]
    rate, schedule = training["optimizer"]["learning_rate"], training.get("lr_schedule")
    kind = schedule["type"] if schedule else None
    if kind == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            rate,
            decay_steps=max(1, round(schedule["decay_epochs"] * steps_per_epoch)),
            decay_rate=schedule["decay_rate"],
        )
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            rate, decay_steps=training["epochs"] * steps_per_epoch, alpha=schedule["alpha"]
        )
    return float(rate)  # reduce_on_plateau lowers this from a callback (app.training.options)


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


def compile_model(spec: dict[str, Any], steps_per_epoch: int = 1) -> keras.Model:
    model = build_model(spec)
    model.compile(
        optimizer=build_optimizer(spec, steps_per_epoch),
        loss=build_loss(spec),
        metrics=build_metrics(spec),
    )
    return model
