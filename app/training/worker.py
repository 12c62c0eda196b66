"""A worker process: claims queued runs from the database and trains them one at a time.

TensorFlow is imported here, in the child, after its thread counts are known; the API
process never imports it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from typing import Any

from app.dispatch import dispatcher_for
from app.enums import RunStatus, StopReason
from app.settings import Settings
from app.storage import runs as storage_runs
from app.training import jobs, registry
from app.training.checkpoint import remove_all
from app.training.control import RunControl

log = logging.getLogger("trainserve.worker")

REAP_EVERY_S = 2.0

WORKER_HEARTBEAT_S = 2.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def configure_tensorflow(threads: int, onednn: bool = True) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Read once, when TensorFlow loads. Left unset, TensorFlow uses oneDNN only on CPUs with
    # AVX-512 VNNI/BF16 or AMX and Eigen's kernels elsewhere; on an AVX2 CPU Eigen's
    # convolutions made the example CNN's step ~2x slower (bench/README.md, session 7).
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"
    import tensorflow as tf

    # Must run before the first op, or TensorFlow ignores it.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(max(1, threads))


class Worker:
    def __init__(
        self, settings: Settings, worker_id: str | None = None, orphan_exit: bool = False
    ) -> None:
        self.settings = settings
        self.orphan_exit = orphan_exit  # pool children stop when the pool process is gone
        self.house_in_beat = False  # set for Celery workers (app.training.celery_worker)
        self.url = settings.resolved_database_url
        self.worker_id = worker_id or new_worker_id()
        self.shutdown = threading.Event()
        self.current: RunControl | None = None
        self.run_id: str | None = None
        # The first sweep waits one interval: a restarting worker must not list the store.
        self._next_sweep = time.monotonic() + settings.gc_interval_seconds
        self._sweeping: threading.Thread | None = None

    def request_shutdown(self, *_: Any) -> None:
        self.shutdown.set()
        if self.current is not None:
            self.current.stop(StopReason.SHUTDOWN)

    def start(self) -> None:
        """Register, then heartbeat and keep house on a background thread."""
        registry.register_worker(self.url, self.worker_id)
        beat = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)
        beat.start()
        log.info("worker %s ready", self.worker_id)

    def serve_forever(self) -> None:
        """The local backend: poll the runs table for queued runs of our queues."""
        self.start()
        queues = self.settings.served_queues
        next_reap = 0.0
        try:
            while not self.shutdown.is_set():
                if time.monotonic() >= next_reap:
                    self._keep_house()
                    next_reap = time.monotonic() + REAP_EVERY_S
                claim = jobs.claim_next(
                    self.url, self.worker_id, self.settings.lease_seconds, queues
                )
                if claim is None:
                    self.shutdown.wait(self.settings.poll_interval)
                    continue
                self.execute(claim)
                if claim.sweep_id:
                    self._drive_sweeps(claim.sweep_id)  # queue the next trial without delay
        finally:
            self.stop()

    def stop(self) -> None:
        self.shutdown.set()
        registry.forget_workers(self.url, [self.worker_id])
        log.info("worker %s stopped", self.worker_id)

    def run_one(self, run_id: str) -> bool:
        """Train ``run_id`` if it is still queued (a broker message); False if it was not."""
        claim = jobs.claim_run(self.url, run_id, self.worker_id, self.settings.lease_seconds)
        if claim is None:
            log.info("run %s: not queued any more; message ignored", run_id)
            return False
        self.execute(claim)
        if claim.sweep_id:
            self._drive_sweeps(claim.sweep_id)
        return True

    def _drive_sweeps(self, sweep_id: str | None) -> None:
        """Workers drive sweeps (see app.sweeps.driver for why here); a failure is retried
        at the next poll and must not kill the worker."""
        from app.sweeps import driver

        try:
            if sweep_id is None:
                driver.advance_all(self.settings)
            else:
                driver.advance(self.settings, sweep_id)
        except Exception:
            log.exception("advancing sweeps failed; retrying at the next poll")

    def _beat(self) -> None:
        parent = os.getppid()
        while not self.shutdown.wait(WORKER_HEARTBEAT_S):
            if self.orphan_exit and os.getppid() != parent:
                log.warning("worker %s: its pool process died; shutting down", self.worker_id)
                self.request_shutdown()
            try:
                registry.worker_heartbeat(self.url, self.worker_id, self.run_id)
            except Exception:  # a missed heartbeat is retried; it must not kill the worker
                log.exception("worker heartbeat failed")
            self._maybe_sweep()
            if self.house_in_beat:
                # A broker-fed worker has no poll loop: reaping, redispatch and sweeps run
                # here, busy or idle, so a run orphaned by a dead machine is picked up as
                # long as any worker lives.
                self._keep_house()

    def _keep_house(self) -> None:
        try:
            jobs.reap_orphans(self.url, self.settings.max_attempts)
            dispatcher_for(self.settings).redispatch()
        except Exception:  # retried next time; housekeeping must not kill the worker
            log.exception("worker housekeeping failed")
        self._drive_sweeps(None)

    def _maybe_sweep(self) -> None:
        """Every gc_interval_seconds, the leader sweeps unnamed objects from the store, on a
        thread of its own: listing a big bucket must not delay heartbeats or training."""
        interval = self.settings.gc_interval_seconds
        if not interval or time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + interval
        if self._sweeping is not None and self._sweeping.is_alive():
            return
        try:
            if registry.leader(self.url, 3 * WORKER_HEARTBEAT_S) != self.worker_id:
                return
        except Exception:
            log.exception("finding the sweep's leader failed; retrying next interval")
            return
        self._sweeping = threading.Thread(target=self._sweep, name="store-sweep", daemon=True)
        self._sweeping.start()

    def _sweep(self) -> None:
        from app.storage.garbage import collect_garbage

        try:
            collect_garbage(self.settings, self.settings.gc_grace_seconds)
        except Exception:  # the store or database is down: the next interval tries again
            log.exception("sweeping the artifact store failed")

    def execute(self, claim: jobs.Claim) -> None:
        cap = self.settings.max_run_seconds
        if claim.spec["training"].get("max_seconds"):
            cap = min(cap, claim.spec["training"]["max_seconds"])
        control = RunControl(deadline=claim.started_at_epoch_s + cap)
        self.current, self.run_id = control, claim.run_id
        if self.shutdown.is_set():
            control.stop(StopReason.SHUTDOWN)
        lease = threading.Thread(
            target=self._hold_lease,
            args=(claim.run_id, control),
            name=f"lease-{claim.run_id}",
            daemon=True,
        )
        lease.start()
        log.info(
            "run %s running (attempt %d)",
            claim.run_id,
            claim.attempts,
            extra={"run_id": claim.run_id, "status": RunStatus.RUNNING},
        )
        try:
            # Imported after the lease thread started: a first import of Keras can take
            # longer than a lease on a busy machine.
            from app.training.trainer import train

            outcome = train(claim, self.settings, self.worker_id, control)
            self._conclude(claim, control, outcome.stopped, outcome.fields, cap)
        except jobs.LeaseLost:
            self._log_lease_lost(claim.run_id)
        except Exception as exc:
            log.error(
                "run %s failed:\n%s",
                claim.run_id,
                traceback.format_exc(),
                extra={"run_id": claim.run_id, "status": RunStatus.FAILED},
            )
            with contextlib.suppress(jobs.LeaseLost):
                jobs.finish(
                    self.url,
                    claim.run_id,
                    self.worker_id,
                    RunStatus.FAILED,
                    f"training error: {type(exc).__name__}: {exc}",
                )
        finally:
            control.stop(StopReason.DONE)
            lease.join()
            self.current, self.run_id = None, None
            gc.unfreeze()  # the run's objects (frozen by the epoch loop) can go now
            gc.collect()

    def _conclude(
        self,
        claim: jobs.Claim,
        control: RunControl,
        stopped: StopReason | None,
        fields: dict[str, Any],
        cap: float,
    ) -> None:
        """Record how the attempt ended, and log the run's new status (if it is still ours)."""
        run_id = claim.run_id
        if stopped == StopReason.LOST:
            # Another worker owns the run now: it is not ours to finish, nor to call failed.
            self._log_lease_lost(run_id)
            return
        status = self._record_end(run_id, control, stopped, fields, cap)
        if status.finished:  # never resumes: its checkpoints and local copy are garbage now
            storage_runs.drop_checkpoints(self.settings, run_id)
            storage_runs.forget_local(self.settings, run_id)
        log.info(
            "run %s %s",
            run_id,
            status,
            extra={"run_id": run_id, "status": status, "reason": stopped},
        )

    def _record_end(
        self,
        run_id: str,
        control: RunControl,
        stopped: StopReason | None,
        fields: dict[str, Any],
        cap: float,
    ) -> RunStatus:
        url, me = self.url, self.worker_id
        if stopped is None:
            jobs.finish(url, run_id, me, RunStatus.SUCCEEDED, None, **fields)
            remove_all(self.settings.runs_dir / run_id)
            return RunStatus.SUCCEEDED
        if stopped == StopReason.CANCEL:
            jobs.finish(url, run_id, me, RunStatus.CANCELLED, "cancelled by the user")
            return RunStatus.CANCELLED
        if stopped == StopReason.PRUNED:  # a hopeless sweep trial: detail says why
            jobs.finish(url, run_id, me, RunStatus.CANCELLED, control.detail)
            return RunStatus.CANCELLED
        if stopped == StopReason.STORE:
            # The store refused even after retries: never succeed without the files;
            # another attempt (maybe on a machine that reaches the store) picks it up.
            log.error("run %s: artifact store failing (%s); requeued", run_id, control.detail)
            return jobs.requeue(url, run_id, me)
        if stopped == StopReason.SHUTDOWN:
            return jobs.requeue(url, run_id, me)
        if stopped == StopReason.DEADLINE:
            reason = f"stopped after exceeding its wall-clock cap of {cap:g} s"
        else:  # NAN (DONE is only set after this returns)
            reason = control.detail
        jobs.finish(url, run_id, me, RunStatus.FAILED, reason)
        return RunStatus.FAILED

    def _log_lease_lost(self, run_id: str) -> None:
        log.warning(
            "run %s: lease lost, leaving it to its new owner",
            run_id,
            extra={"run_id": run_id, "reason": StopReason.LOST},
        )

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
                control.stop(StopReason.LOST)
                return
            except Exception:
                log.exception("lease renewal for run %s failed; retrying", run_id)
                continue
            if status == RunStatus.CANCELLING:
                # Logged first: the stop ends the training call within a step, and what that
                # logs must come after the cancel that caused it.
                log.info("run %s: cancel seen", run_id, extra={"run_id": run_id})
                control.stop(StopReason.CANCEL)
                return


def run_polling_worker(settings: Settings, concurrency: int = 1) -> None:
    """`trainserve worker` with the local queue: one process polling the database
    (``concurrency`` is the Celery pool's option; one poller trains one run at a time)."""
    worker_main(settings.model_dump(mode="json"))


def worker_main(
    settings_data: dict[str, Any], worker_id: str | None = None, pooled: bool = False
) -> None:
    """Entry point of a worker process (spawned by the pool or `trainserve worker`)."""
    from app.logs import configure_logging

    settings = Settings.model_validate(settings_data)
    configure_logging()
    configure_tensorflow(settings.threads_per_worker, settings.onednn)
    worker = Worker(settings, worker_id, orphan_exit=pooled)
    signal.signal(signal.SIGTERM, worker.request_shutdown)
    signal.signal(signal.SIGINT, worker.request_shutdown)
    worker.serve_forever()
