"""A supervised pool of worker processes (spawned, never forked: TensorFlow is not fork-safe)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import uuid
from multiprocessing.process import BaseProcess

from app.settings import Settings
from app.training import registry
from app.training.worker import WORKER_HEARTBEAT_S, worker_main

log = logging.getLogger("trainserve.pool")


class WorkerPool:
    def __init__(self, settings: Settings, size: int | None = None) -> None:
        self.settings = settings
        self.size = settings.workers if size is None else size
        self._ctx = mp.get_context("spawn")
        self._procs: dict[str, BaseProcess] = {}
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        url = self.settings.resolved_database_url
        # Workers of a previous life of this host (killed with the whole service) hold leases
        # on their runs; forgetting them lets the new workers resume those runs at once.
        registry.forget_workers(
            url, registry.dead_local_workers(url, silent_for=3 * WORKER_HEARTBEAT_S)
        )
        for _ in range(self.size):
            self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="pool-monitor", daemon=True)
        self._monitor.start()

    def _spawn(self) -> None:
        worker_id = f"{socket.gethostname()}:pool{os.getpid()}:{uuid.uuid4().hex[:8]}"
        proc = self._ctx.Process(
            target=worker_main,
            name=f"trainserve-worker-{worker_id[-8:]}",
            args=(self.settings.model_dump(mode="json"), worker_id, True),
        )
        proc.start()
        self._procs[worker_id] = proc
        log.info("started worker %s (pid %s)", worker_id, proc.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for worker_id, proc in list(self._procs.items()):
                if proc.is_alive() or self._stopping.is_set():
                    continue
                log.warning(
                    "worker %s (pid %s) died with exit code %s; restarting",
                    worker_id,
                    proc.pid,
                    proc.exitcode,
                )
                del self._procs[worker_id]
                registry.forget_workers(self.settings.resolved_database_url, [worker_id])
                self._spawn()

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM every worker (each finishes its batch, checkpoints, requeues), then wait."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping.set()
        for proc in self._procs.values():
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self._procs.values():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("worker pid %s ignored SIGTERM for %.0f s; killing it", proc.pid, grace)
                proc.kill()
                proc.join()
        self._procs.clear()
