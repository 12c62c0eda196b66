"""Dispatch: the local pool against Celery (Redis), on PostgreSQL, one machine.

Prints
- submit -> first-epoch-start latency with a warm worker, local pool vs Celery
  (target <= 1 s for Celery): submitted 2 s after the worker's last run ended (a warm, idle
  worker), and back to back (the submit right after the previous run finished);
- runs per minute for 8 short runs on 1 vs 2 Celery workers (and the local pool's, for scale).
Each setting is started fresh (its own database and Redis) and warmed with one run first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests.fixtures.databases import postgres_database
from tests.fixtures.live import LiveService, free_port, load_example, read_events
from tests.scale.machines import Machine


def spec(epochs: int) -> dict[str, Any]:
    s = load_example("digits-relu", epochs=epochs)
    s["dataset"] = {"name": "digits", "test_fraction": 0.2}
    return s


@contextmanager
def redis_server(root: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def service(mode: str, workers: int, root: Path) -> Iterator[LiveService]:
    with postgres_database() as db, redis_server(root) as broker:
        if mode == "local":
            # One TensorFlow thread per worker, as the Celery workers below: the ratios then
            # compare dispatch, not thread counts.
            svc = LiveService(root / f"local-{workers}", db, workers=workers, tf_threads="1")
            svc.start()
            try:
                yield svc
            finally:
                svc.stop()
            return
        env = {"queue": "celery", "broker_url": broker, "tf_threads": "1"}
        svc = LiveService(root / f"api-{workers}", db, workers=0, **env).start()
        machine_env = {f"TRAINSERVE_{k.upper()}": v for k, v in env.items()}
        machine_env |= {"TRAINSERVE_DATABASE_URL": db, "TRAINSERVE_API_KEY": ""}
        machines = [
            Machine(f"w{i}", root / f"celery-{workers}", machine_env) for i in range(workers)
        ]
        try:
            for m in machines:
                m.start()
            for m in machines:
                m.wait_ready(db)
            yield svc
        finally:
            for m in machines:
                m.stop()
            svc.stop()


def first_epoch_latency(svc: LiveService, idle: float = 0.0) -> float:
    """Seconds from POST /v1/runs to the start of the run's first epoch, submitted ``idle``
    seconds after the worker's previous run ended (0: back to back)."""
    time.sleep(idle)
    submitted = time.time()
    run_id = svc.submit(spec(epochs=1))["id"]
    svc.wait_for(run_id, timeout=300)
    epoch = next(d for _, kind, d in read_events(svc.http, run_id) if kind == "epoch")
    return float(epoch["ended_at"] - epoch["seconds"] - submitted)


def runs_per_minute(svc: LiveService, n: int) -> float:
    start = time.monotonic()
    ids = [svc.submit(spec(epochs=2))["id"] for _ in range(n)]
    for run_id in ids:
        assert svc.wait_for(run_id, timeout=600)["status"] == "succeeded"
    return n / ((time.monotonic() - start) / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        latency: dict[str, float] = {}
        back_to_back: dict[str, float] = {}
        throughput: dict[str, float] = {}
        for mode in ("local", "celery"):
            with service(mode, 1, root) as svc:
                first_epoch_latency(svc)  # warm-up: TensorFlow, the dataset, the graph
                latency[mode] = statistics.median(
                    first_epoch_latency(svc, idle=2.0) for _ in range(args.rounds)
                )
                back_to_back[mode] = statistics.median(
                    first_epoch_latency(svc) for _ in range(args.rounds)
                )
                throughput[f"{mode} x1"] = runs_per_minute(svc, args.runs)
            with service(mode, 2, root) as svc:
                first_epoch_latency(svc)
                throughput[f"{mode} x2"] = runs_per_minute(svc, args.runs)
    print(f"submit -> first epoch start (median of {args.rounds}, warm worker)")
    print("           idle 2 s   back to back")
    for mode, seconds in latency.items():
        print(f"  {mode:<8} {seconds:6.2f} s   {back_to_back[mode]:6.2f} s")
    print(
        f"  ratio celery/local {latency['celery'] / latency['local']:.2f}   (target: celery <= 1 s)"
    )
    print(f"runs per minute, {args.runs} runs of 2 epochs (digits)")
    for name, rate in throughput.items():
        print(f"  {name:<10} {rate:6.1f}")
    for mode in ("local", "celery"):
        print(
            f"  {mode} 2 workers / 1 worker: {throughput[f'{mode} x2'] / throughput[f'{mode} x1']:.2f}"
        )


if __name__ == "__main__":
    main()
