"""Checks of the training options (early stopping, learning-rate schedules, augmentation,
L2), without TensorFlow: mistakes are errors, pitfalls are warnings."""

from __future__ import annotations

from app.runs.checked import Checked
from app.runs.spec import (
    Conv2DLayer,
    DenseLayer,
    ExponentialDecay,
    ReduceOnPlateau,
)

# Rotating a digit further than this starts to turn 6 into 9 and 2 into 5 and the like.
MAX_SAFE_ROTATION = 30.0
LARGE_L2 = 0.01


def check_options(c: Checked) -> None:
    t = c.spec.training
    es, schedule = t.early_stopping, t.lr_schedule
    if es is not None:
        _check_monitor(c, "/training/early_stopping/monitor", es.monitor)
        if es.patience >= t.epochs:
            c.warn(
                "/training/early_stopping/patience",
                f"patience {es.patience} >= {t.epochs} epochs: early stopping can never stop",
                f"use a patience well below the epochs, e.g. {max(1, t.epochs // 5)}",
            )
    if isinstance(schedule, ReduceOnPlateau):
        _check_plateau(c, schedule)
        if es is not None and es.patience <= schedule.patience:
            c.warn(
                "/training/early_stopping/patience",
                f"early stopping (patience {es.patience}) gives up before the learning rate "
                f"is ever reduced (patience {schedule.patience})",
                "give early stopping a larger patience than reduce_on_plateau",
            )
    elif isinstance(schedule, ExponentialDecay):
        _check_exponential(c, schedule)
    _check_augmentation(c)
    _check_l2(c)


def _check_monitor(c: Checked, at: str, monitor: str) -> None:
    t = c.spec.training
    if monitor.startswith("val_") and not t.validation_split:
        c.error(
            at,
            f"{monitor} needs a validation split, and validation_split is 0",
            f"set validation_split to e.g. 0.1, or monitor {monitor.removeprefix('val_')}",
        )
    if monitor.endswith("accuracy") and "accuracy" not in t.metrics:
        c.error(at, "accuracy is not recorded", 'add "accuracy" to metrics, or monitor the loss')


def _check_plateau(c: Checked, schedule: ReduceOnPlateau) -> None:
    t = c.spec.training
    _check_monitor(c, "/training/lr_schedule/monitor", schedule.monitor)
    if schedule.patience >= t.epochs:
        c.warn(
            "/training/lr_schedule/patience",
            f"patience {schedule.patience} >= {t.epochs} epochs: the rate is never reduced",
            "use a smaller patience or more epochs",
        )
    if schedule.min_learning_rate >= t.optimizer.learning_rate:
        c.warn(
            "/training/lr_schedule/min_learning_rate",
            "the floor is not below the starting learning rate, so the rate never changes",
            "use a min_learning_rate well below optimizer.learning_rate",
        )


def _check_exponential(c: Checked, schedule: ExponentialDecay) -> None:
    t = c.spec.training
    if schedule.decay_rate == 1:
        c.warn(
            "/training/lr_schedule/decay_rate",
            "a decay rate of 1 never changes the learning rate",
            "use e.g. 0.9",
        )
        return
    final = t.optimizer.learning_rate * schedule.decay_rate ** (t.epochs / schedule.decay_epochs)
    if final < 1e-7:
        c.warn(
            "/training/lr_schedule/decay_rate",
            f"the learning rate decays to {final:.2g} by the last epoch: the later epochs learn "
            "nothing",
            "use a decay_rate closer to 1 or larger decay_epochs",
        )


def _check_augmentation(c: Checked) -> None:
    aug = c.spec.training.augmentation
    if aug is None:
        return
    at = "/training/augmentation"
    if not (aug.shift or aug.rotation or aug.zoom):
        c.warn(at, "every amount is 0, so nothing is augmented", "set shift, rotation or zoom")
        return
    info = c.dataset
    if info is not None and min(info.shape) <= 8:
        h, w = info.shape
        c.warn(
            at,
            f"{c.spec.dataset.name} images are {h}x{w}: one pixel of shift is "
            f"{1 / min(h, w):.0%} of the image, and rotations and zoom blur what little "
            "there is",
            "use at most shift 0.125 (one pixel) and small rotations, or augment 28x28 data",
        )
    if aug.rotation > MAX_SAFE_ROTATION:
        c.warn(
            f"{at}/rotation",
            f"rotations up to {aug.rotation:g} degrees make some digits look like others (6 and 9)",
            f"use at most {MAX_SAFE_ROTATION:g} degrees",
        )


def _check_l2(c: Checked) -> None:
    for i, layer in enumerate(c.spec.model.layers):
        if isinstance(layer, DenseLayer | Conv2DLayer) and layer.l2 > LARGE_L2:
            c.warn(
                f"{c.layer_at(i)}/l2",
                f"L2 of {layer.l2:g} is strong: the weights are pushed to 0 faster than they learn",
                "start around 0.0001 to 0.001",
            )
