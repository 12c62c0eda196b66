"""Training speed of the service against a plain Keras script, in one process.

For each example (default: zero-vs-one, digits-relu, digits-cnn over mnist-5k), with the same
normalised spec, data split and seed:
- median epoch wall time of a plain ``model.fit`` with Keras' default ``compile`` and of a run
  through ``trainserve serve`` (one warm worker with every core), and their ratio (targets:
  <= 0.55 for the MLPs, <= 0.85 for the CNN); epoch 1 of each run is left out (tracing);
- test accuracy of both (target: within 0.5 percentage points);
- what the service chose: XLA or not, and how many steps it ran per call;
- cancel latency, POST cancel -> status cancelled, while training (p95 target <= 1 s);
- submit -> first-epoch start with a warm worker (target <= 2 s) and epoch-event latency.
Plain and service runs alternate so machine noise hits both alike.

``--threads``: instead, the thread setting (TRAINSERVE_TF_THREADS): one worker with every
core against one worker per core with one thread each; wall time of a batch of short runs
submitted at once (warm workers, a fresh service per measurement) and the CPU seconds per
epoch its processes used, in rounds of alternating order (``--rounds``), per example.

``--accuracy SEEDS``: instead, test accuracy per seed of plain Keras with its own shuffle, of
plain Keras on the service's batch order, and of the service.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.fixtures.live import LiveService, load_example

EXAMPLES = ("zero-vs-one", "digits-relu", "digits-cnn")
TARGETS = {"digits-cnn": 0.85}  # the MLPs: 0.55


def normalised(spec: dict[str, Any]) -> dict[str, Any]:
    from app.runs.spec import RunSpec
    from app.runs.validation import check_spec
    from app.settings import Settings

    return check_spec(RunSpec.model_validate(spec), Settings(_env_file=None))[0].model_dump(
        mode="json"
    )


def plain_keras(
    spec: dict[str, Any], data_dir: Path, service_order: bool = False
) -> tuple[list[float], float]:
    """What a user would write by hand: build, compile with defaults, fit on the arrays.

    ``service_order``: fit one epoch at a time on the service's batches of that epoch (its
    order by (seed, epoch)) instead of Keras' own shuffle: the same run as the service's but
    for XLA and the grouping of steps, to tell the shuffle's share of an accuracy difference.
    """
    import keras

    from app.settings import Settings
    from app.training.build import compile_model
    from app.training.data import epoch_batches, prepare

    data = prepare(spec, Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    keras.utils.set_random_seed(spec["training"]["seed"])
    model = compile_model(spec)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.start)

    t = spec["training"]
    if service_order:
        for e in range(t["epochs"]):
            batches = epoch_batches(
                data.x_train, data.y_train, t["batch_size"], t["seed"], e, e + 1
            )
            model.fit(batches, validation_data=(data.x_val, data.y_val), verbose=0)
    else:
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=t["batch_size"],
            epochs=t["epochs"],
            validation_data=(data.x_val, data.y_val),
            shuffle=True,
            verbose=0,
            callbacks=[Timer()],
        )
    scores = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0, return_dict=True)
    return times, float(scores["accuracy"])


def service_run(svc: LiveService, spec: dict[str, Any]) -> dict[str, Any]:
    """Epoch times, submit -> first-epoch start, event latencies, and the finished run."""
    import httpx

    submitted = time.time()
    run_id = svc.submit(spec)["id"]
    epochs: list[float] = []
    latencies: list[float] = []
    first_start = None
    with (
        httpx.Client(base_url=str(svc.http.base_url), timeout=600) as http,
        http.stream("GET", f"/v1/runs/{run_id}/events") as resp,
    ):
        kind = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "epoch":
                data = json.loads(line[5:])
                latencies.append(time.time() - data["ended_at"])
                epochs.append(data["seconds"])
                if first_start is None:
                    first_start = data["ended_at"] - data["seconds"]
            elif line.startswith("data:") and kind == "done":
                break
    run = svc.run(run_id)
    assert run["status"] == "succeeded", run["failure_reason"]
    start = (first_start or submitted) - submitted
    return {"epochs": epochs, "start": start, "latencies": latencies, "run": run}


def cancel_latency(svc: LiveService, example: str) -> float:
    """POST cancel at a random moment of a training run -> the run reads cancelled."""
    run_id = svc.submit(load_example(example, epochs=300))["id"]
    svc.wait_for(run_id, {"running"}, min_epoch=1)
    time.sleep(random.uniform(0, 0.5))
    asked = time.monotonic()
    assert svc.http.post(f"/v1/runs/{run_id}/cancel").status_code == 202
    while svc.run(run_id)["status"] != "cancelled":
        time.sleep(0.01)
    return time.monotonic() - asked


def chunking(svc: LiveService, run_id: str) -> str:
    """The worker's summary line for the run: calls, largest chunk, time per step."""
    found = re.findall(rf"run {run_id}: (\d+) calls of up to (\d+) steps \(([\d.]+) ms", svc.logs())
    if not found:
        return "?"
    calls, largest, per_step = found[-1]
    return f"up to {largest} steps/call, {calls} calls, {per_step} ms/step"


def batch_seconds(svc: LiveService, specs: list[dict[str, Any]]) -> float:
    """Submit every spec at once; seconds until all have succeeded."""
    started = time.monotonic()
    ids = [svc.submit(spec)["id"] for spec in specs]
    for run_id in ids:
        run = svc.wait_for(run_id, timeout=1200)
        assert run["status"] == "succeeded", run["failure_reason"]
    return time.monotonic() - started


def session_cpu(session: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a session: the
    service's API process and its workers."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def thread_round(
    tmp: Path, spec: dict[str, Any], workers: int, threads: int, runs: int
) -> tuple[float, float]:
    """A fresh service with ``workers`` x ``threads``: wall seconds of ``runs`` runs submitted
    at once, and the CPU seconds its processes used meanwhile."""
    svc = LiveService(
        tmp / f"{workers}x{threads}-{time.monotonic_ns()}", workers=workers, tf_threads=threads
    )
    svc.start(wait_ready=False)._wait("/readyz", timeout=600)
    try:
        batch_seconds(svc, [load_example("zero-vs-one", epochs=1)] * workers)  # warm
        assert svc.proc is not None
        cpu = session_cpu(svc.proc.pid)
        seconds = batch_seconds(svc, [spec] * runs)
        return seconds, session_cpu(svc.proc.pid) - cpu
    finally:
        svc.stop()


def thread_split(tmp: Path, examples: list[str], runs: int, epochs: int, rounds: int) -> None:
    """Rounds alternate the order (AB, BA, AB, ...) so that load drifting over time favours
    neither; each round's ratio compares two adjacent measurements."""
    cores = os.cpu_count() or 1
    one, split = (1, cores), (cores, 1)  # (workers, TensorFlow threads per worker)
    for example in examples:
        spec = load_example(example, epochs=epochs)
        walls: dict[tuple[int, int], list[float]] = {one: [], split: []}
        cpus: dict[tuple[int, int], list[float]] = {one: [], split: []}
        for r in range(rounds):
            load = os.getloadavg()[0]
            for setting in (one, split) if r % 2 == 0 else (split, one):
                seconds, cpu = thread_round(tmp, spec, *setting, runs)
                walls[setting].append(seconds)
                cpus[setting].append(cpu / (runs * epochs))
            print(
                f"  {example} round {r + 1} (load {load:.1f} -> {os.getloadavg()[0]:.1f}, "
                f"{'1x' if r % 2 == 0 else f'{cores}x'} first): "
                f"1 worker x {cores} threads {walls[one][-1]:.1f} s, {cpus[one][-1]:.2f} CPU-s/epoch; "
                f"{cores} workers x 1 thread {walls[split][-1]:.1f} s, "
                f"{cpus[split][-1]:.2f} CPU-s/epoch; wall ratio split/one "
                f"{walls[split][-1] / walls[one][-1]:.2f}",
                flush=True,
            )
        ratios = [b / a for a, b in zip(walls[one], walls[split], strict=True)]
        print(
            f"| {example} | {runs} x {epochs} | {statistics.median(walls[one]):.1f} s, "
            f"{statistics.median(cpus[one]):.2f} CPU-s/epoch | {statistics.median(walls[split]):.1f} s, "
            f"{statistics.median(cpus[split]):.2f} CPU-s/epoch | split/one wall per round "
            f"{' / '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f}) |",
            flush=True,
        )


def accuracy_by_order(svc: LiveService, tmp: Path, examples: list[str], seeds: int) -> None:
    """Test accuracy per seed: plain Keras with its own shuffle, plain Keras on the service's
    batch order, and the service."""
    print("| example | seed | plain, Keras' shuffle | plain, service's order | service |")
    for example in examples:
        rows = []
        for i in range(seeds):
            spec = load_example(example)
            spec["training"]["seed"] += i
            own = plain_keras(normalised(spec), tmp)[1]
            same = plain_keras(normalised(spec), tmp, service_order=True)[1]
            served = service_run(svc, spec)["run"]["evaluation"]["accuracy"]
            rows.append((own, same, served))
            seed = spec["training"]["seed"]
            print(f"| {example} | {seed} | {own:.4f} | {same:.4f} | {served:.4f} |", flush=True)
        own_m, same_m, served_m = (statistics.median(col) for col in zip(*rows, strict=True))
        print(
            f"| {example} | median | {own_m:.4f} | {same_m:.4f} | {served_m:.4f} |  "
            f"service - plain: Keras' shuffle {100 * (served_m - own_m):+.2f} pp, "
            f"service's order {100 * (served_m - same_m):+.2f} pp",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", nargs="+", default=list(EXAMPLES))
    parser.add_argument("--epochs", type=int, default=0, help="0 = each example's own")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cancels", type=int, default=3, help="per example")
    parser.add_argument(
        "--vary-seed",
        action="store_true",
        help="round i trains with seed + i (both sides): accuracy spread, not one shuffle order",
    )
    parser.add_argument("--threads", action="store_true", help="measure the thread setting")
    parser.add_argument("--runs", type=int, default=4, help="--threads: runs submitted at once")
    parser.add_argument(
        "--accuracy",
        type=int,
        default=0,
        metavar="SEEDS",
        help="instead: test accuracy over SEEDS seeds, plain Keras with its shuffle and with "
        "the service's batch order, against the service",
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.threads:
        with tempfile.TemporaryDirectory() as tmp:
            thread_split(Path(tmp), args.examples, args.runs, args.epochs or 2, args.rounds)
        print(f"load average after: {os.getloadavg()}")
        return
    rows, starts, lat, cancels = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        svc = LiveService(Path(tmp) / "var", workers=1, tf_threads=os.cpu_count() or 1)
        svc.start(wait_ready=False)._wait("/readyz", timeout=600)  # a busy machine starts slowly
        try:
            service_run(svc, load_example("zero-vs-one", epochs=1))  # warm the worker
            if args.accuracy:
                accuracy_by_order(svc, Path(tmp), args.examples, args.accuracy)
                print(f"load average after: {os.getloadavg()}")
                return
            for example in args.examples:
                overrides = {"epochs": args.epochs} if args.epochs else {}
                plain, served, acc_p, acc_s, runs = [], [], [], [], []
                for i in range(args.rounds):
                    spec = load_example(example, **overrides)
                    if args.vary_seed:
                        spec["training"]["seed"] += i
                    times, accuracy = plain_keras(normalised(spec), Path(tmp))
                    plain += times[1:]
                    acc_p.append(accuracy)
                    result = service_run(svc, spec)
                    served += result["epochs"][1:]
                    acc_s.append(result["run"]["evaluation"]["accuracy"])
                    starts.append(result["start"])
                    lat += result["latencies"]
                    runs.append(result["run"])
                cancels += [cancel_latency(svc, example) for _ in range(args.cancels)]
                rows.append((example, plain, served, acc_p, acc_s, runs[-1], svc))
                report(rows[-1])
            summary(rows, starts, lat, cancels)
        finally:
            svc.stop()
    print(f"load average after: {os.getloadavg()}")


def report(row: tuple[Any, ...]) -> None:
    example, plain, served, acc_p, acc_s, run, svc = row
    p, s = statistics.median(plain), statistics.median(served)
    target = TARGETS.get(example, 0.55)
    xla = "XLA" if run["reproducibility"].get("jit_compile") else "no XLA"
    print(
        f"| {example} | {p * 1000:.1f} ms | {s * 1000:.1f} ms | **{s / p:.2f}** (≤ {target}) "
        f"| {statistics.median(acc_p):.4f} | {statistics.median(acc_s):.4f} "
        f"| {xla}, {chunking(svc, run['id'])} |",
        flush=True,
    )
    print(f"  test accuracy per round: plain {acc_p}, service {acc_s}", flush=True)


def summary(rows: list[Any], starts: list[float], lat: list[float], cancels: list[float]) -> None:
    def p95(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]

    lat_ms = sorted(x * 1000 for x in lat)
    print(f"examples: {', '.join(r[0] for r in rows)}")
    print(
        f"cancel latency   p50 {statistics.median(cancels):.2f} s  p95 {p95(cancels):.2f} s  "
        f"max {max(cancels):.2f} s over {len(cancels)}   (target p95 <= 1 s)"
    )
    print(
        f"submit -> first epoch start  median {statistics.median(starts):.2f} s  "
        f"max {max(starts):.2f} s   (target <= 2 s, warm worker)"
    )
    print(
        f"epoch event latency  p50 {statistics.median(lat_ms):.1f} ms  max {lat_ms[-1]:.1f} ms"
        "   (target p50 <= 250 ms)"
    )


if __name__ == "__main__":
    main()
