"""Training overhead of the service against a plain Keras script, in one process.

Prints, for the same spec, data and seed:
- median epoch wall time of plain ``model.fit`` and of a run through ``trainserve serve``,
  and their ratio (target <= 1.05);
- submit -> first-epoch-start latency with a warm worker (target <= 2 s);
- epoch-event latency: epoch end in the worker -> event received by an SSE client
  (p50 target <= 250 ms).
Plain and service runs alternate so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.live import LiveService, load_example  # noqa: E402


def plain_keras_epochs(spec: dict, data_dir: Path) -> list[float]:
    """What a user would write by hand: build, compile, fit on the same arrays."""
    import keras

    from app.training.build import compile_model
    from app.training.data import prepare

    data = prepare(spec, data_dir)
    keras.utils.set_random_seed(spec["training"]["seed"])
    model = compile_model(spec)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    t = spec["training"]
    model.fit(data.x_train, data.y_train, batch_size=t["batch_size"], epochs=t["epochs"],
              validation_data=(data.x_val, data.y_val), shuffle=True, verbose=0,
              callbacks=[Timer()])
    return times


def service_run(svc: LiveService, spec: dict) -> tuple[list[float], float, list[float]]:
    """Epoch times, submit->first-epoch-start, and per-epoch event latencies."""
    import httpx

    submitted = time.time()
    run_id = svc.submit(spec)["id"]
    epochs: list[float] = []
    latencies: list[float] = []
    first_start = None
    with httpx.Client(base_url=str(svc.http.base_url), timeout=300) as http, \
            http.stream("GET", f"/v1/runs/{run_id}/events") as resp:
        kind = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "epoch":
                received = time.time()
                data = json.loads(line[5:])
                latencies.append(received - data["ended_at"])
                epochs.append(data["seconds"])
                if first_start is None:
                    first_start = data["ended_at"] - data["seconds"]
            elif line.startswith("data:") and kind == "done":
                break
    assert svc.run(run_id)["status"] == "succeeded"
    return epochs, (first_start or submitted) - submitted, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", default="digits-relu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    spec = load_example(args.example, epochs=args.epochs)
    from app.runs.spec import RunSpec
    from app.runs.validation import check_spec
    from app.settings import Settings

    normalised = check_spec(RunSpec.model_validate(spec), Settings(_env_file=None))[0]
    norm = normalised.model_dump(mode="json")

    with tempfile.TemporaryDirectory() as tmp:
        svc = LiveService(Path(tmp) / "var", workers=1, tf_threads=os.cpu_count() or 1).start()
        try:
            service_run(svc, load_example(args.example, epochs=1))  # warm the worker
            plain, served, starts, lat = [], [], [], []
            for _ in range(args.rounds):
                plain += plain_keras_epochs(norm, Path(tmp))[1:]  # epoch 1 includes tracing
                epochs, start, latencies = service_run(svc, spec)
                served += epochs[1:]
                starts.append(start)
                lat += latencies
        finally:
            svc.stop()
    p, s = statistics.median(plain), statistics.median(served)
    lat_ms = sorted(x * 1000 for x in lat)
    print(f"spec: {args.example}, {args.epochs} epochs x {args.rounds} rounds (first epoch of each excluded)")
    print(f"plain keras epoch   median {p * 1000:8.1f} ms")
    print(f"service epoch       median {s * 1000:8.1f} ms")
    print(f"ratio service/plain        {s / p:8.3f}   (target <= 1.05)")
    print(f"submit -> first epoch start {statistics.median(starts):7.2f} s   (target <= 2 s, warm worker)")
    print(f"epoch event latency  p50 {statistics.median(lat_ms):6.1f} ms  max {lat_ms[-1]:6.1f} ms"
          "   (target p50 <= 250 ms)")


if __name__ == "__main__":
    main()
