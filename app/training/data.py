"""Arrays a worker trains on, and a batch order that a resumed run can reproduce exactly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from app.datasets.builtin import Split, load_split, split_arrays, targets
from app.settings import Settings


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
    dataset_version: int | None = None


def _split(spec: dict[str, Any], settings: Settings) -> tuple[Split, str]:
    """The split and the dataset's sha256: an upload's recorded digest (verified on load), or
    for a built-in the digest of the split itself."""
    ds, seed = spec["dataset"], spec["training"]["seed"]
    if ds.get("version") is None:
        split = load_split(ds["name"], ds["classes"], ds["test_fraction"], seed, settings.data_dir)
        return split, split.sha256
    from app.datasets.service import load_for_training

    images, labels, sha256 = load_for_training(settings, ds["name"], ds["version"])
    return split_arrays(images, labels, 1.0, ds["classes"], ds["test_fraction"], seed), sha256


def prepare(spec: dict[str, Any], settings: Settings) -> TrainingData:
    ds, training = spec["dataset"], spec["training"]
    split, dataset_sha256 = _split(spec, settings)
    classes = ds["classes"]

    def encode(labels: np.ndarray) -> np.ndarray:
        y = targets(labels, ds["target"], classes)
        if training["loss"]["type"] == "categorical_crossentropy":
            y = np.eye(len(classes), dtype=np.float32)[y]
        return y

    x, y = split.x_train[..., None], encode(split.labels_train)
    n_val = round(len(x) * training["validation_split"])
    x_val = y_val = None
    if n_val:
        # The train split is already a seeded permutation, so its tail is a fair sample.
        x, x_val, y, y_val = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
    return TrainingData(
        x,
        y,
        x_val,
        y_val,
        split.x_test[..., None],
        encode(split.labels_test),
        classes,
        dataset_sha256,
        ds.get("version"),
    )


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def epoch_batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augmentation: dict[str, float] | None = None,
) -> tf.data.Dataset:
    """Batches for epochs ``first_epoch..epochs-1``; epoch e's order depends only on (seed, e).

    Keras' own shuffling continues a hidden RNG stream, so a run resumed from a checkpoint
    would see other batches than an uninterrupted one; this keeps them identical. Each epoch's
    order is drawn when the pipeline reaches it and batches are gathered from one tensor of
    the arrays, so memory stays flat however many epochs and examples (no per-epoch copies).
    The same holds for augmentation: each image's transform in epoch e is drawn from
    (seed, e), not from a stateful generator (as Keras' random preprocessing layers use).
    """
    n = len(x)
    xs, ys = tf.constant(x), tf.constant(y)
    if augmentation and any(augmentation.values()):
        return _augmented(xs, ys, batch_size, seed, range(first_epoch, epochs), augmentation)

    def orders() -> Iterator[np.ndarray]:
        for e in range(first_epoch, epochs):
            yield np.random.default_rng([seed, e]).permutation(n).astype(np.int32)

    index = tf.data.Dataset.from_generator(
        orders, output_signature=tf.TensorSpec(shape=(n,), dtype=tf.int32)
    ).flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return index.map(
        lambda i: (tf.gather(xs, i), tf.gather(ys, i)), num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(tf.data.AUTOTUNE)


def _augmented(
    xs: tf.Tensor,
    ys: tf.Tensor,
    batch_size: int,
    seed: int,
    epochs: range,
    augmentation: dict[str, float],
) -> tf.data.Dataset:
    n, height, width = (int(d) for d in xs.shape[:3])

    def orders() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for e in epochs:
            order = np.random.default_rng([seed, e]).permutation(n).astype(np.int32)
            yield order, affine_transforms(augmentation, n, height, width, seed, e)

    # Transform k belongs to image k of that epoch's order, so both are batched together.
    signature = (
        tf.TensorSpec(shape=(n,), dtype=tf.int32),
        tf.TensorSpec(shape=(n, 8), dtype=tf.float32),
    )
    batches = tf.data.Dataset.from_generator(orders, output_signature=signature).flat_map(
        lambda order, t: tf.data.Dataset.from_tensor_slices((order, t)).batch(batch_size)
    )

    def augment(i: tf.Tensor, t: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.gather(xs, i),
            transforms=t,
            output_shape=tf.constant([height, width], tf.int32),
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )
        return images, tf.gather(ys, i)

    return batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


ValidationBatches = list[tuple[tf.Tensor, tf.Tensor]]


def validation_batches(data: TrainingData, batch_size: int) -> ValidationBatches | None:
    """Tensors built once per run: Keras would convert the arrays again at every epoch's
    validation, and a tf.data pipeline per epoch costs thread hand-offs that on a busy machine
    took longer than the validation itself (bench/README.md)."""
    if data.x_val is None or data.y_val is None:
        return None
    x, y = data.x_val, data.y_val
    return [
        (tf.constant(x[i : i + batch_size]), tf.constant(y[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    ]


def affine_transforms(
    aug: dict[str, float], n: int, height: int, width: int, seed: int, epoch: int
) -> np.ndarray:
    """``n`` projective transforms (output pixel -> input pixel, TensorFlow's 8-vector form):
    a random shift, rotation about the centre and zoom per image, drawn from (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch, 1])
    tx = rng.uniform(-1, 1, n) * aug.get("shift", 0.0) * width
    ty = rng.uniform(-1, 1, n) * aug.get("shift", 0.0) * height
    theta = np.deg2rad(rng.uniform(-1, 1, n) * aug.get("rotation", 0.0))
    scale = 1.0 + rng.uniform(-1, 1, n) * aug.get("zoom", 0.0)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = np.cos(theta) / scale, np.sin(theta) / scale
    # output = c + scale * R(theta) (input - c) + t, inverted: input = c + R(-theta)(out-c-t)/s
    ux, uy = cx + tx, cy + ty
    out = np.zeros((n, 8), np.float32)
    out[:, 0], out[:, 1], out[:, 2] = cos, sin, cx - (cos * ux + sin * uy)
    out[:, 3], out[:, 4], out[:, 5] = -sin, cos, cy - (-sin * ux + cos * uy)
    return out
