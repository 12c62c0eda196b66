"""A real `trainserve serve` (API + worker processes) in a subprocess, driven over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FINISHED = {"succeeded", "failed", "cancelled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_example(name: str, **training: Any) -> dict[str, Any]:
    spec = json.loads((ROOT / "models" / f"{name}.json").read_text())
    spec["training"].update(training)
    return spec


class LiveService:
    """``trainserve serve`` in its own process group, so tests can kill -9 all of it at once."""

    def __init__(self, data_dir: Path, database_url: str = "", workers: int = 1,
                 **env: Any) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.env = {**os.environ, "TRAINSERVE_DATA_DIR": str(data_dir),
                    "TRAINSERVE_DATABASE_URL": database_url, "TRAINSERVE_WORKERS": str(workers),
                    "TRAINSERVE_LEASE_SECONDS": "3", "TRAINSERVE_API_KEY": "",
                    "TF_CPP_MIN_LOG_LEVEL": "3",
                    **{f"TRAINSERVE_{k.upper()}": str(v) for k, v in env.items()}}
        self.log_path = data_dir / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def start(self, wait_ready: bool = True) -> LiveService:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=self.env, cwd=ROOT,
                       check=True, capture_output=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait("/readyz" if wait_ready and self.env["TRAINSERVE_WORKERS"] != "0" else "/healthz")
        return self

    def _wait(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                if self.http.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{path} not ready:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        try:
            os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
        except ProcessLookupError:
            pass
        code = self.proc.wait(timeout)
        if sig == signal.SIGKILL:
            _wait_group_gone(self.proc.pid)
        self.proc = None
        return code

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        # multiprocessing's spawn also starts a resource tracker; workers are the others.
        return [p for p in pids if "resource_tracker" not in _cmdline(p)]

    # -- the HTTP API ------------------------------------------------------------------
    def submit(self, spec: dict[str, Any], **headers: str) -> dict[str, Any]:
        resp = self.http.post("/v1/runs", json=spec, headers=headers)
        assert resp.status_code in (200, 202), resp.text
        return resp.json()

    def run(self, run_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/v1/runs/{run_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_for(self, run_id: str, statuses: set[str] | None = None, timeout: float = 240,
                 min_epoch: int = 0) -> dict[str, Any]:
        statuses = statuses or FINISHED
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in statuses and run["progress"]["epoch"] >= min_epoch:
                return run
            time.sleep(0.1)
        raise TimeoutError(f"run {run_id} still {run['status']} (epoch {run['progress']['epoch']})"
                           f"\n{self.logs()[-4000:]}")

    def epochs(self, run_id: str) -> list[int]:
        return [e["epoch"] for e in self.http.get(f"/v1/runs/{run_id}/metrics").json()["epochs"]]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def _wait_group_gone(pgid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def read_events(http: httpx.Client, run_id: str, last_event_id: str | None = None,
                timeout: float = 240) -> list[tuple[int, str, dict[str, Any]]]:
    """Read the run's SSE stream until it ends; returns (id, event, data) in arrival order."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[tuple[int, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    with http.stream("GET", f"/v1/runs/{run_id}/events", headers=headers, timeout=timeout) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
                continue
            if "event" in fields:
                events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
            fields = {}
    return events
