"""A worker's memory while it trains on a full-MNIST-sized dataset: flat across epochs.

Full MNIST cannot be downloaded on the build machines, so this writes a 70,000-image
``mnist.npz`` (60,000 train + 10,000 test, Keras' layout) by tiling the 5,000 shipped digits,
into the data dir's dataset cache, where the service looks for a downloaded ``mnist``. Then
one worker trains ``digits-relu`` on it while this script samples the worker's resident set
(``/proc/<pid>/status``): RSS at each epoch end, and the peak (VmHWM). Flat means no
per-epoch copies of the dataset: what grows after epoch 1 should be noise, not megabytes
per epoch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from app.datasets.builtin import load_raw, mnist_cache_path
from tests.fixtures.live import LiveService, load_example


def write_tiled_mnist(data_dir: Path) -> int:
    images, labels = load_raw("mnist-5k", data_dir)
    reps = -(-70_000 // len(images))
    x, y = np.tile(images, (reps, 1, 1))[:70_000], np.tile(labels, reps)[:70_000]
    path = mnist_cache_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x_train=x[:60_000].astype(np.uint8),
        y_train=y[:60_000].astype(np.uint8),
        x_test=x[60_000:].astype(np.uint8),
        y_test=y[60_000:].astype(np.uint8),
    )
    return len(x)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "var"
        n = write_tiled_mnist(data_dir)
        svc = LiveService(data_dir, workers=1, tf_threads=os.cpu_count() or 1)
        svc.start(wait_ready=False)._wait("/readyz", timeout=600)  # a busy machine starts slowly
        try:
            (pid,) = svc.worker_pids()
            idle = status_kb(pid, "VmRSS")
            spec = load_example("digits-relu", epochs=args.epochs, batch_size=args.batch_size)
            spec["dataset"]["name"] = "mnist"
            run_id = svc.submit(spec)["id"]
            per_epoch: dict[int, int] = {}
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    epoch = svc.run(run_id)["progress"]["epoch"]
                    per_epoch.setdefault(epoch, status_kb(pid, "VmRSS"))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            run = svc.wait_for(run_id, timeout=3600)
            done.set()
            sampler.join()
            peak = status_kb(pid, "VmHWM")
        finally:
            svc.stop()
    assert run["status"] == "succeeded", run["failure_reason"]
    train = 56_000 - round(56_000 * 0.1)  # test_fraction 0.2, validation_split 0.1
    print(
        f"dataset: {n} images tiled from mnist-5k; {train} training images, float32 "
        f"{train * 784 * 4 / 2**20:.0f} MiB"
    )
    print(f"worker RSS idle (TensorFlow loaded): {idle / 1024:.0f} MiB")
    for epoch, kb in sorted(per_epoch.items()):
        if epoch:
            print(f"  RSS when epoch {epoch} was recorded: {kb / 1024:.0f} MiB")
    epochs = [kb for e, kb in sorted(per_epoch.items()) if e]
    if len(epochs) > 2:
        growth = (epochs[-1] - epochs[1]) / 1024 / (len(epochs) - 2)
        print(f"growth after epoch 2: {growth:+.1f} MiB per epoch")
    print(f"worker peak RSS (VmHWM): {peak / 1024:.0f} MiB")
    print(
        f"test accuracy {run['evaluation']['accuracy']:.4f}; load average after: {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
