"""Stand-ins for separate machines: Celery workers with their own hostname (a UTS
namespace), data dir and process group, sharing only PostgreSQL, the broker and S3."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.db.session import read_session
from app.db.tables import Run, Worker
from tests.fixtures.live import ROOT


class Machine:
    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name, self.data_dir = name, root / name
        self.env = {**os.environ, **env, "TRAINSERVE_DATA_DIR": str(self.data_dir)}
        self.log_path = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Machine:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = f"hostname {self.name} && exec {shlex.quote(sys.executable)} -m app.cli worker"
        self.proc = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", command],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, database_url: str, timeout: float = 180) -> Machine:
        """Until a pool child of this machine has registered (TensorFlow loaded, warm)."""
        wait_until(lambda: self.worker_ids(database_url), timeout, self.logs)
        return self

    def worker_ids(self, database_url: str) -> list[str]:
        """This process's workers (not those of an earlier machine of the same name)."""
        assert self.proc is not None and self.proc.poll() is None, self.logs()
        with read_session(database_url) as s:
            rows = s.execute(select(Worker.id, Worker.pid).where(Worker.hostname == self.name))
            workers = rows.tuples().all()
        children = _children(self.proc.pid)
        return [worker_id for worker_id, pid in workers if pid in children]

    def kill(self) -> None:
        """kill -9 of the whole machine: the Celery main process and its pool children."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def terminate(self, timeout: float = 90) -> None:
        """SIGTERM to the Celery main process only, as `docker stop` or systemd sends it;
        returns once the machine has exited (its run handed back)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} ignored SIGTERM\n{self.logs()[-4000:]}") from None
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)
            self.proc = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def wait_until(
    check: Callable[[], Any], timeout: float, explain: Callable[[], str] = lambda: ""
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise TimeoutError(explain()[-4000:])


def holder(database_url: str, run_id: str) -> str | None:
    """The hostname of the machine whose worker holds the run's lease."""
    with read_session(database_url) as s:
        worker_id = s.scalar(select(Run.worker_id).where(Run.id == run_id))
    return worker_id.split(":")[0] if worker_id else None
