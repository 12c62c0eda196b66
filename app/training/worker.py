"""A worker process: claims queued runs from the database and trains them one at a time.

TensorFlow is imported here, in the child, after its thread counts are known; the API
process never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from typing import Any

from app.settings import Settings
from app.training import jobs
from app.training.checkpoint import remove_all
from app.training.control import RunControl

log = logging.getLogger("trainserve.worker")

REAP_EVERY_S = 2.0
WORKER_HEARTBEAT_S = 2.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def configure_tensorflow(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    # Must run before the first op, or TensorFlow ignores it.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(max(1, threads))


class Worker:
    def __init__(self, settings: Settings, worker_id: str | None = None,
                 orphan_exit: bool = False) -> None:
        self.settings = settings
        self.orphan_exit = orphan_exit  # pool children stop when the pool process is gone
        self.url = settings.resolved_database_url
        self.worker_id = worker_id or new_worker_id()
        self.shutdown = threading.Event()
        self.current: RunControl | None = None
        self.run_id: str | None = None

    def request_shutdown(self, *_: Any) -> None:
        self.shutdown.set()
        if self.current is not None:
            self.current.stop("shutdown")

    def serve_forever(self) -> None:
        jobs.register_worker(self.url, self.worker_id)
        beat = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)
        beat.start()
        log.info("worker %s ready", self.worker_id)
        next_reap = 0.0
        try:
            while not self.shutdown.is_set():
                if time.monotonic() >= next_reap:
                    jobs.reap_orphans(self.url, self.settings.max_attempts)
                    next_reap = time.monotonic() + REAP_EVERY_S
                claim = jobs.claim_next(self.url, self.worker_id, self.settings.lease_seconds)
                if claim is None:
                    self.shutdown.wait(self.settings.poll_interval)
                    continue
                self.execute(claim)
        finally:
            jobs.forget_workers(self.url, [self.worker_id])
            log.info("worker %s stopped", self.worker_id)

    def _beat(self) -> None:
        parent = os.getppid()
        while not self.shutdown.wait(WORKER_HEARTBEAT_S):
            if self.orphan_exit and os.getppid() != parent:
                log.warning("worker %s: its pool process died; shutting down", self.worker_id)
                self.request_shutdown()
            try:
                jobs.worker_heartbeat(self.url, self.worker_id, self.run_id)
            except Exception:  # a missed heartbeat is retried; it must not kill the worker
                log.exception("worker heartbeat failed")

    def execute(self, claim: jobs.Claim) -> None:
        from app.training.trainer import train

        cap = self.settings.max_run_seconds
        if claim.spec["training"].get("max_seconds"):
            cap = min(cap, claim.spec["training"]["max_seconds"])
        control = RunControl(deadline=claim.started_at_epoch_s + cap)
        self.current, self.run_id = control, claim.run_id
        if self.shutdown.is_set():
            control.stop("shutdown")
        lease = threading.Thread(target=self._hold_lease, args=(claim.run_id, control),
                                 name=f"lease-{claim.run_id}", daemon=True)
        lease.start()
        log.info("run %s running (attempt %d)", claim.run_id, claim.attempts,
                 extra={"run_id": claim.run_id, "status": "running"})
        try:
            outcome = train(claim, self.settings, self.worker_id, control)
            self._conclude(claim, control, outcome.stopped, outcome.fields, cap)
        except jobs.LeaseLost:
            log.warning("run %s: lease lost, leaving it to its new owner", claim.run_id,
                        extra={"run_id": claim.run_id})
        except Exception as exc:
            log.error("run %s failed:\n%s", claim.run_id, traceback.format_exc(),
                      extra={"run_id": claim.run_id, "status": "failed"})
            with contextlib.suppress(jobs.LeaseLost):
                jobs.finish(self.url, claim.run_id, self.worker_id, "failed",
                            f"training error: {type(exc).__name__}: {exc}")
        finally:
            control.stop("done")
            lease.join()
            self.current, self.run_id = None, None

    def _conclude(self, claim: jobs.Claim, control: RunControl, stopped: str | None,
                  fields: dict[str, Any], cap: float) -> None:
        run_id, url = claim.run_id, self.url
        if stopped is None:
            jobs.finish(url, run_id, self.worker_id, "succeeded", None, **fields)
            remove_all(self.settings.runs_dir / run_id)
        elif stopped == "cancel":
            jobs.finish(url, run_id, self.worker_id, "cancelled", "cancelled by the user")
        elif stopped == "shutdown":
            jobs.requeue(url, run_id, self.worker_id)
        elif stopped == "deadline":
            jobs.finish(url, run_id, self.worker_id, "failed",
                        f"stopped after exceeding its wall-clock cap of {cap:g} s")
        elif stopped == "nan":
            jobs.finish(url, run_id, self.worker_id, "failed", control.detail)
        status = {None: "succeeded", "cancel": "cancelled", "shutdown": "queued"}.get(stopped, "failed")
        log.info("run %s %s", run_id, status, extra={"run_id": run_id, "status": status,
                                                     "reason": stopped})

    def _hold_lease(self, run_id: str, control: RunControl) -> None:
        """Renews the lease and watches for cancel until the run ends."""
        s = self.settings
        renew_every = s.lease_seconds / 3
        next_renew = 0.0
        while not control.wait(s.heartbeat_seconds):
            try:
                if time.monotonic() >= next_renew:
                    status = jobs.renew_lease(self.url, run_id, self.worker_id, s.lease_seconds)
                    next_renew = time.monotonic() + renew_every
                else:
                    status = jobs.read_status(self.url, run_id, self.worker_id)
            except jobs.LeaseLost:
                control.stop("lost")
                return
            except Exception:
                log.exception("lease renewal for run %s failed; retrying", run_id)
                continue
            if status == "cancelling":
                control.stop("cancel")


def worker_main(settings_data: dict[str, Any], worker_id: str | None = None,
                pooled: bool = False) -> None:
    """Entry point of a worker process (spawned by the pool or `trainserve worker`)."""
    from app.logs import configure_logging

    settings = Settings.model_validate(settings_data)
    configure_logging()
    configure_tensorflow(settings.threads_per_worker)
    worker = Worker(settings, worker_id, orphan_exit=pooled)
    signal.signal(signal.SIGTERM, worker.request_shutdown)
    signal.signal(signal.SIGINT, worker.request_shutdown)
    worker.serve_forever()
