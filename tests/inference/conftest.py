"""Fixtures shared by the inference tests."""

from __future__ import annotations

import numpy as np
import pytest

from app.datasets.builtin import DATA_DIR


@pytest.fixture(scope="session")
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA_DIR / "mnist-5k.npz") as npz:
        return npz["images"][:50].astype(np.float32) / 255.0, npz["labels"][:50]
