"""Where a service epoch goes, in-process: the training code path of a worker (time-sized
calls, the short last batch, validation, checkpoint snapshot and write) on one example, wall
and process CPU time per phase, median over epochs 2.., with the load average.

    .venv/bin/python bench/train_phases.py digits-cnn --epochs 6

Validation is timed both ways in alternation: the worker's (Keras' test step on batches built
once as tensors) and ``model.evaluate`` on a tf.data pipeline (what the worker did before);
both give the same metrics, which the script checks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PHASES = ("step loop", "short last batch", "validation", "evaluate (before)", "snapshot", "write")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", nargs="?", default="digits-cnn")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from app.training.worker import configure_tensorflow

    # As a worker sets TensorFlow up (oneDNN as TRAINSERVE_ONEDNN, default on; run with
    # TF_ENABLE_ONEDNN_OPTS=0 for Eigen's kernels).
    configure_tensorflow(args.threads, os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") == "1")
    import keras
    import tensorflow as tf

    from app.settings import Settings
    from app.training import checkpoint
    from app.training.build import compile_model
    from app.training.data import epoch_batches, prepare, steps_per_epoch, validation_batches
    from app.training.execution import ChunkSizer, Executor, xla_by_rule
    from bench.train_overhead import normalised
    from tests.fixtures.live import load_example

    spec = normalised(load_example(args.example))
    tmp = Path(tempfile.mkdtemp())
    data = prepare(spec, Settings(data_dir=tmp, _env_file=None))  # type: ignore[call-arg]
    t = spec["training"]
    batch, seed = t["batch_size"], t["seed"]
    keras.utils.set_random_seed(seed)
    steps = steps_per_epoch(len(data.x_train), batch)
    model = compile_model(spec, steps)
    batches = epoch_batches(data.x_train, data.y_train, batch, seed, 0, args.epochs)
    executor = Executor(model, xla_by_rule(spec, "auto"), batches)
    sizer, val = ChunkSizer(0.1), validation_batches(data, max(batch, 256))
    assert val is not None
    pipeline = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(max(batch, 256))
    full = steps - 1 if len(data.x_train) % batch else steps
    wall: dict[str, list[float]] = {p: [] for p in PHASES}
    cpu: dict[str, list[float]] = {p: [] for p in PHASES}

    def timed(phase: str, epoch: int, fn):  # type: ignore[no-untyped-def]
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        if epoch:
            wall[phase].append(time.perf_counter() - w)
            cpu[phase].append(time.process_time() - c)
        return out

    def loop() -> None:
        done = 0
        while done < full:
            n = sizer.next(full - done)
            _, ran, seconds = executor.run(n)
            sizer.observe(ran, seconds)
            done += ran

    for epoch in range(args.epochs):
        model.reset_metrics()
        timed("step loop", epoch, loop)
        if full < steps:
            timed("short last batch", epoch, executor.run_short)
        model.get_metrics_result()
        order = ("validation", "evaluate (before)")
        for phase in order if epoch % 2 else order[::-1]:
            if phase == "validation":
                mine = timed(phase, epoch, lambda: executor.validate(val))
            else:
                theirs = timed(
                    phase, epoch, lambda: model.evaluate(pipeline, verbose=0, return_dict=True)
                )
        assert mine == theirs, (mine, theirs)
        snap = timed("snapshot", epoch, lambda: checkpoint.snapshot(model))
        timed("write", epoch, partial(checkpoint.write, tmp, epoch, snap))
    print(
        f"{args.example}: {steps} steps/epoch, {args.threads} threads, epochs 2-{args.epochs}, "
        f"last chunk {sizer.size} steps, load average {os.getloadavg()[0]:.1f}"
    )
    for phase in PHASES:
        if wall[phase]:
            print(
                f"  {phase:18s} wall {1000 * statistics.median(wall[phase]):7.1f} ms   "
                f"CPU {1000 * statistics.median(cpu[phase]):7.1f} ms"
            )


if __name__ == "__main__":
    main()
