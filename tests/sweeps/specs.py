"""Small sweep bodies over the 8x8 digits dataset, fast enough to train in tests."""

from __future__ import annotations

import copy
from typing import Any


def digits_base(epochs: int = 3) -> dict[str, Any]:
    return {
        "name": "digits-mlp",
        "dataset": {"name": "digits", "test_fraction": 0.2},
        "model": {
            "layers": [
                {"type": "dense", "units": 16, "activation": "relu"},
                {"type": "dense", "units": 10, "activation": "linear"},
            ]
        },
        "training": {
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True},
            "epochs": epochs,
            "batch_size": 64,
            "validation_split": 0.2,
            "seed": 7,
        },
    }


def grid_sweep(epochs: int = 3, **fields: Any) -> dict[str, Any]:
    """6 trials: two widths times three learning rates, one of them far too small."""
    return {
        "name": "digits-grid",
        "base": digits_base(epochs),
        "space": {
            "/model/layers/0/units": {"values": [8, 32]},
            "/training/optimizer/learning_rate": {"values": [0.00001, 0.003, 0.03]},
        },
        "method": "grid",
        "parallel": 2,
        "objective": {"metric": "val_accuracy", "direction": "max"},
        **fields,
    }


def cnn_base() -> dict[str, Any]:
    base = digits_base()
    base["model"]["layers"] = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "linear"},
    ]
    return base


def copy_of(body: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(body)
