"""Arrays a worker trains on, and a batch order that a resumed run can reproduce exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from app.training.datasets import load_split, targets


@dataclass(frozen=True)
class TrainingData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[int]
    dataset_sha256: str


def prepare(spec: dict[str, Any], data_dir: Path) -> TrainingData:
    ds, training = spec["dataset"], spec["training"]
    split = load_split(ds["name"], ds["classes"], ds["test_fraction"], training["seed"], data_dir)
    classes = ds["classes"]

    def encode(labels: np.ndarray) -> np.ndarray:
        y = targets(labels, ds["target"], classes)
        if training["loss"]["type"] == "categorical_crossentropy":
            y = np.eye(len(classes), dtype=np.float32)[y]
        return y

    x, y = split.x_train[..., None], encode(split.labels_train)
    n_val = int(round(len(x) * training["validation_split"]))
    x_val = y_val = None
    if n_val:
        # The train split is already a seeded permutation, so its tail is a fair sample.
        x, x_val, y, y_val = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
    return TrainingData(x, y, x_val, y_val, split.x_test[..., None], encode(split.labels_test),
                        classes, split.sha256)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def epoch_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, first_epoch: int,
                  epochs: int) -> tf.data.Dataset:
    """Batches for epochs ``first_epoch..epochs-1``; epoch e's order depends only on (seed, e).

    Keras' own shuffling continues a hidden RNG stream, so a run resumed from a checkpoint
    would see other batches than an uninterrupted one; this keeps them identical.
    """
    n = len(x)
    orders = np.stack([np.random.default_rng([seed, e]).permutation(n)
                       for e in range(first_epoch, epochs)]).astype(np.int32)
    xs, ys = tf.constant(x), tf.constant(y)
    index = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return (index.map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)),
                      num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
