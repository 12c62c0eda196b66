"""Peak memory of the API process while it takes a ~50 MB dataset upload.

Starts `trainserve serve --workers 0`, uploads a small CSV first (the baseline: same code
paths, imports warmed), then ~50 MB CSV and npz files built from mnist-5k. Before each upload
the process's peak-RSS counter is reset (/proc/PID/clear_refs), so each figure is the peak
of that upload alone. Prints the growth over the idle process, and its ratio to the upload
size and to the converted array (uint8 pixels) the service must hold to compress and hash.

    .venv/bin/python bench/dataset_upload.py [--mb 50]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.datasets.files import csv_bytes, mnist_subset
from tests.fixtures.live import LiveService

MB = 1024 * 1024


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS


def tiled(target_bytes: int) -> tuple[np.ndarray, np.ndarray, bytes, bytes]:
    x, y = mnist_subset(tuple(range(10)), per_class=500)
    one_csv = csv_bytes(x, y)
    reps = max(1, round(target_bytes / len(one_csv)))
    xs, ys = np.tile(x, (reps, 1, 1)), np.tile(y, reps)
    csv = csv_bytes(xs, ys)
    npz = io.BytesIO()
    np.savez(npz, x=xs, y=ys)
    return xs, ys, csv, npz.getvalue()


def upload(svc: LiveService, name: str, filename: str, path: Path) -> tuple[float, int]:
    assert svc.proc is not None
    reset_peak(svc.proc.pid)
    start = time.perf_counter()
    with path.open("rb") as fh:
        resp = svc.http.post(
            "/v1/datasets", data={"name": name}, files={"file": (filename, fh)}, timeout=900
        )
    assert resp.status_code == 201, resp.text
    return time.perf_counter() - start, rss_kib(svc.proc.pid, "VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        xs, _, csv, npz = tiled(int(args.mb * MB))
        small_x, small_y = mnist_subset((0, 1), per_class=50)
        files = {
            "small.csv": csv_bytes(small_x, small_y),
            "big.csv": csv,
            "big.npz": npz,
        }
        for name, data in files.items():
            (root / name).write_bytes(data)
        svc = LiveService(root / "var", workers=0).start(wait_ready=False)
        try:
            assert svc.proc is not None
            upload(svc, "warm", "small.csv", root / "small.csv")
            idle = rss_kib(svc.proc.pid, "VmRSS")
            print(f"idle API process after a small upload: {idle / 1024:.0f} MiB RSS")
            print(f"converted array: {xs.nbytes / MB:.1f} MiB uint8 ({len(xs):,} images)")
            for name in ("big.csv", "big.npz"):
                size = len(files[name])
                seconds, peak = upload(svc, name.replace(".", "-"), name, root / name)
                growth = (peak - idle) * 1024
                print(
                    f"{name}: {size / MB:.1f} MiB in {seconds:.1f} s; peak RSS {peak / 1024:.0f} MiB, "
                    f"+{growth / MB:.0f} MiB over idle = {growth / size:.2f}x the upload, "
                    f"{growth / xs.nbytes:.2f}x the array"
                )
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
