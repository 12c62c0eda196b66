"""`trainserve datasets upload|list|show|delete` as a user runs them, against a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.datasets.files import csv_bytes, idx_bytes, mnist_subset, npz_bytes
from tests.fixtures.live import LiveService
from tests.test_cli import cli, url_of

pytestmark = pytest.mark.slow  # starts a real server

X, Y = mnist_subset((3, 8), per_class=10)


def test_upload_list_show_delete(live: Callable[..., LiveService], tmp_path: Path) -> None:
    url = url_of(live(workers=0))
    csv = tmp_path / "kaggle train.csv"
    csv.write_bytes(csv_bytes(X, Y))
    up = cli(url, "datasets", "upload", str(csv))
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("dataset kaggle-train@1: 20 examples, 28x28, classes 3,8")
    assert "uploading" in up.stderr or "converting" in up.stderr  # the progress bar

    images, labels = tmp_path / "images-idx3-ubyte.gz", tmp_path / "labels-idx1-ubyte"
    images.write_bytes(idx_bytes(X, gz=True))
    labels.write_bytes(idx_bytes(Y))
    pair = cli(url, "datasets", "upload", str(images), str(labels), "--name", "pair", "-q")
    assert pair.returncode == 0 and pair.stderr == "", pair.stderr

    again = cli(url, "datasets", "upload", str(csv), "-q")
    assert again.returncode == 2 and "version=new" in again.stderr
    newer = tmp_path / "d.npz"
    pick = np.concatenate([np.flatnonzero(Y == 3)[:3], np.flatnonzero(Y == 8)[:3]])
    newer.write_bytes(npz_bytes(x=X[pick], y=Y[pick]))
    v2 = cli(url, "datasets", "upload", str(newer), "-n", "kaggle-train", "--new-version", "-q")
    assert v2.returncode == 0 and "kaggle-train@2: 6 examples" in v2.stdout

    listed = cli(url, "datasets", "list").stdout
    assert "kaggle-train" in listed and "pair" in listed and "mnist-5k" in listed

    preview = tmp_path / "grid.png"
    shown = cli(url, "datasets", "show", "kaggle-train@1", "--preview", str(preview))
    assert shown.returncode == 0 and "per class 3: 10  8: 10" in shown.stdout
    assert preview.read_bytes()[:4] == b"\x89PNG"

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"label,pixel0,pixel1,pixel2,pixel3\n1,0,0,0,0\n1,0,0\n")
    refused = cli(url, "datasets", "upload", str(bad), "-q")
    assert refused.returncode == 2 and "/file/lines/3" in refused.stderr

    assert cli(url, "datasets", "delete", "kaggle-train").returncode == 0
    gone = cli(url, "datasets", "show", "kaggle-train")
    assert gone.returncode == 2 and "No dataset named 'kaggle-train'" in gone.stderr
