"""API process memory and start-up time, for bench/predict.py.

RSS is read from /proc after each model has answered one prediction. The 20 models are
clones of the trained run (its row copied under new ids, its files copied): each is loaded
into its own runtime session exactly as 20 different small runs would be, without training
20 networks for a benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, select

from app.db.tables import Run
from app.runs.ids import new_run_id
from bench._servers import cpu_seconds
from tests.fixtures.live import ROOT, LiveService, free_port

READY_S, RSS_20_MB = 1.5, 200.0  # issue 12's targets


@dataclass(frozen=True)
class Footprint:
    runtime: str
    models: int
    rss_mb: float
    ready_s: float  # from process start to /v2/health/ready (named models warmed)
    ready_cpu_s: float  # the process's CPU time by then: what the load average does not inflate


def clone_runs(data_dir: Path, run_id: str, count: int) -> list[str]:
    engine = create_engine(f"sqlite:///{data_dir / 'trainserve.db'}")
    ids = []
    with engine.begin() as conn:
        row = dict(conn.execute(select(Run.__table__).where(Run.id == run_id)).mappings().one())
        for i in range(count):
            new = new_run_id()
            conn.execute(insert(Run.__table__).values({**row, "id": new, "name": f"clone-{i}"}))
            shutil.copytree(data_dir / "runs" / run_id, data_dir / "runs" / new)
            ids.append(new)
    engine.dispose()
    return ids


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def name_runs(data_dir: Path, run_ids: list[str]) -> None:
    """Point model names bench-0, bench-1, ... at the runs (warmed up at start-up)."""
    svc = LiveService(data_dir, workers=0).start()
    try:
        for i, run_id in enumerate(run_ids):
            svc.http.put(f"/v1/models/bench-{i}", json={"run_id": run_id}).raise_for_status()
    finally:
        svc.stop()
        svc.http.close()


def measure(data_dir: Path, models: int, runtime: str) -> Footprint:
    """Start a fresh API process (no workers) with ``models`` named models, time it to ready
    (every named model warmed), predict once with each and read its RSS."""
    port = free_port()
    env = {
        **LiveService(data_dir, workers=0).env,
        "TRAINSERVE_SERVING_RUNTIME": runtime,
        "TRAINSERVE_MODEL_CACHE_SIZE": str(max(8, models)),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            ready = _wait_ready(http, proc, started)
            ready_cpu = cpu_seconds(proc.pid)
            for i in range(models):
                resp = http.post(f"/v1/models/bench-{i}/predict", json={"instances": [[0] * 784]})
                resp.raise_for_status()
            return Footprint(runtime, models, rss_mb(proc.pid), ready, ready_cpu)
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_ready(http: httpx.Client, proc: subprocess.Popen[bytes], started: float) -> float:
    while time.perf_counter() - started < 600:
        if proc.poll() is not None:
            raise RuntimeError("the API process exited")
        try:
            if http.get("/v2/health/ready").status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise TimeoutError("not ready after 600 s")


def footprints_of(data_dir: Path, run_id: str) -> list[Footprint]:
    name_runs(data_dir, [run_id])
    rows = [measure(data_dir, 1, "onnxruntime"), measure(data_dir, 1, "keras")]
    name_runs(data_dir, [run_id, *clone_runs(data_dir, run_id, 19)])
    rows.append(measure(data_dir, 20, "onnxruntime"))
    return rows


def report_footprints(rows: list[Footprint]) -> list[str]:
    print("\nAPI process (no workers): start to ready, RSS after predicting with each model")
    for f in rows:
        print(
            f"  {f.runtime:12s} {f.models:3d} models  ready {f.ready_s:5.2f} s "
            f"(CPU {f.ready_cpu_s:5.2f} s)  RSS {f.rss_mb:6.1f} MB"
        )
    missed = []
    for f in rows:
        if f.runtime == "onnxruntime" and f.ready_s > READY_S:
            missed.append(f"ready after {f.ready_s:.2f} s with {f.models} models > {READY_S:g} s")
        if f.runtime == "onnxruntime" and f.models >= 20 and f.rss_mb > RSS_20_MB:
            missed.append(f"RSS {f.rss_mb:.0f} MB with {f.models} models > {RSS_20_MB:g} MB")
    return missed
