"""Loaders of the built-in datasets (workers), and the one-off download of ``mnist`` (API)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.datasets.catalog import CATALOG, CLOSED_LOOP_DIGITS
from app.errors import Unavailable

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Split:
    """Pixels scaled to [0, 1], shape (N, H, W); ``labels`` are the dataset's own labels."""

    x_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    sha256: str


def mnist_cache_path(data_dir: Path) -> Path:
    return data_dir / "datasets" / "mnist.npz"


def ensure_available(name: str, data_dir: Path, url: str, timeout: float) -> None:
    """Make sure a dataset can be loaded offline, downloading ``mnist`` once if needed."""
    if name != "mnist" or mnist_cache_path(data_dir).exists():
        return
    import httpx

    target = mnist_cache_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            resp.raise_for_status()
            with tmp.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    fh.write(chunk)
        tmp.replace(target)
    except (httpx.HTTPError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise Unavailable(
            f"The mnist dataset is not cached and cannot be downloaded from {url} ({exc}). "
            "Use 'mnist-5k' (5,000 real MNIST digits, available offline), or place mnist.npz "
            f"at {target}."
        ) from exc


def load_raw(name: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images (N, H, W, raw pixel scale) and labels of a built-in dataset."""
    if name in ("digits", "mnist-5k"):  # shipped: see data/README.md
        with np.load(DATA_DIR / f"{name}.npz") as npz:
            return npz["images"], npz["labels"].astype(np.int64)
    if name == "mnist":
        with np.load(mnist_cache_path(data_dir)) as npz:
            images = np.concatenate([npz["x_train"], npz["x_test"]])
            labels = np.concatenate([npz["y_train"], npz["y_test"]]).astype(np.int64)
            return images, labels
    raise KeyError(name)


def load_split(
    name: str, classes: list[int] | None, test_fraction: float, seed: int, data_dir: Path
) -> Split:
    """Scaled images of a built-in with a stratified train/test split that depends only on the seed."""
    images, labels = load_raw(name, data_dir)
    return split_arrays(images, labels, CATALOG[name].max_pixel, classes, test_fraction, seed)


def split_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    max_pixel: float,
    classes: list[int] | None,
    test_fraction: float,
    seed: int,
) -> Split:
    """Any dataset's (N, H, W) images and labels, split the same way for built-ins and uploads."""
    if classes:
        keep = np.isin(labels, classes)
        images, labels = images[keep], labels[keep]
    x = (images.astype(np.float32) / max_pixel).astype(np.float32)
    rng = np.random.default_rng(seed)
    test_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    # Stratified by class; yes/no columns (N, K) and float values have no classes to keep in
    # proportion, so they are held out as one group.
    classes_known = labels.ndim == 1 and labels.dtype.kind in "iu"
    for group in np.unique(labels) if classes_known else [None]:
        idx = rng.permutation(
            np.arange(len(labels)) if group is None else np.flatnonzero(labels == group)
        )
        n_test = max(1, round(len(idx) * test_fraction))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train_idx))
    test = np.sort(np.concatenate(test_idx))
    digest = hashlib.sha256()
    for arr in (x[train], labels[train], x[test], labels[test]):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return Split(x[train], labels[train], x[test], labels[test], digest.hexdigest())


def targets(labels: np.ndarray, target: str, classes: list[int]) -> np.ndarray:
    """What the network learns: class indices, yes/no label vectors, or the digit's value."""
    if target == "multilabel" and labels.ndim == 2:
        return labels.astype(np.float32)  # an upload's own yes/no columns
    if target == "multilabel":
        return np.stack(
            [labels % 2 == 0, labels >= 5, np.isin(labels, list(CLOSED_LOOP_DIGITS))], axis=1
        ).astype(np.float32)
    if target == "value":
        return labels.astype(np.float32)  # a digit's value, or an upload's float targets
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[int(v)] for v in labels], dtype=np.int64)
