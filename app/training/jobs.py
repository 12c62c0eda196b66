"""State transitions of a run as a job: claim, lease, progress, finish. No TensorFlow here.

Every transition is one short write transaction, fenced on ``worker_id`` so a worker that
lost its lease (and whose run was reclaimed by another) can no longer change the run.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from app.db.base import utcnow
from app.db.models import EpochMetric, Run, Worker
from app.db.session import read_session, write_session
from app.runs.events import add_event, add_status_event


@dataclass(frozen=True)
class Claim:
    run_id: str
    spec: dict[str, Any]
    attempts: int
    checkpoint_epoch: int
    started_at_epoch_s: float


class LeaseLost(Exception):
    """The run is no longer ours: reclaimed after our lease expired, or deleted."""


def register_worker(url: str, worker_id: str) -> None:
    with write_session(url) as s:
        s.merge(Worker(id=worker_id, hostname=socket.gethostname(), pid=os.getpid(),
                       started_at=utcnow(), heartbeat_at=utcnow()))


def worker_heartbeat(url: str, worker_id: str, run_id: str | None) -> None:
    with write_session(url) as s:
        updated = s.execute(update(Worker).where(Worker.id == worker_id)
                            .values(heartbeat_at=utcnow(), run_id=run_id)).rowcount
        if not updated:
            # Someone judged us dead (e.g. a pool on another container sharing our hostname):
            # come back rather than stay invisible to /readyz forever.
            s.add(Worker(id=worker_id, hostname=socket.gethostname(), pid=os.getpid(),
                         started_at=utcnow(), heartbeat_at=utcnow(), run_id=run_id))


def forget_workers(url: str, worker_ids: list[str]) -> None:
    """Drop rows of workers known to be dead, so their runs are reclaimed without waiting."""
    if worker_ids:
        with write_session(url) as s:
            s.execute(delete(Worker).where(Worker.id.in_(worker_ids)))


def dead_local_workers(url: str, silent_for: float) -> list[str]:
    """Workers on this host whose process is gone and whose heartbeat stopped: a hostname is
    shared by containers on a host network, so a missing pid alone proves nothing."""
    host, since = socket.gethostname(), utcnow() - timedelta(seconds=silent_for)
    with read_session(url) as s:
        rows = s.execute(select(Worker.id, Worker.pid).where(
            Worker.hostname == host, Worker.heartbeat_at < since)).all()
    return [wid for wid, pid in rows if not _pid_alive(pid)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans(url: str, max_attempts: int) -> None:
    """Requeue (or fail, past max_attempts) runs whose worker stopped renewing its lease."""
    now = utcnow()
    with write_session(url) as s:
        live = select(Worker.id)
        orphans = s.scalars(select(Run).where(
            Run.status.in_(("running", "cancelling")),
            or_(Run.lease_expires_at < now, Run.worker_id.is_(None), Run.worker_id.not_in(live)),
        ).with_for_update(skip_locked=True)).all()
        for run in orphans:
            if run.status == "cancelling":
                _finish(run, "cancelled", "cancelled by the user (its worker stopped meanwhile)")
            elif run.attempts >= max_attempts:
                _finish(run, "failed", f"its worker died {run.attempts} times (lease expired); "
                        f"gave up after max_attempts={max_attempts}")
            else:
                run.status, run.worker_id, run.lease_expires_at = "queued", None, None
                run.failure_reason = None
            add_status_event(s, run)


def claim_next(url: str, worker_id: str, lease_seconds: float) -> Claim | None:
    now = utcnow()
    with write_session(url) as s:
        run = s.scalars(select(Run).where(Run.status == "queued").order_by(Run.id).limit(1)
                        .with_for_update(skip_locked=True)).first()
        if run is None:
            return None
        run.status, run.worker_id = "running", worker_id
        run.lease_expires_at = now + timedelta(seconds=lease_seconds)
        run.attempts += 1
        run.started_at = run.started_at or now
        add_status_event(s, run)
        return Claim(run.id, run.spec, run.attempts, run.checkpoint_epoch,
                     run.started_at.timestamp())


def renew_lease(url: str, run_id: str, worker_id: str, lease_seconds: float) -> str:
    """Extend our lease; returns the run's status (``cancelling`` asks us to stop)."""
    with write_session(url) as s:
        run = s.get(Run, run_id)
        if run is None or run.worker_id != worker_id:
            raise LeaseLost(run_id)
        run.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
        return run.status


def read_status(url: str, run_id: str, worker_id: str) -> str:
    with read_session(url) as s:
        row = s.execute(select(Run.status, Run.worker_id).where(Run.id == run_id)).first()
    if row is None or row.worker_id != worker_id:
        raise LeaseLost(run_id)
    return row.status


def _owned(s: Any, run_id: str, worker_id: str) -> Run:
    run = s.get(Run, run_id)
    if run is None or run.worker_id != worker_id or run.status not in ("running", "cancelling"):
        raise LeaseLost(run_id)
    return run


def set_reproducibility(url: str, run_id: str, worker_id: str, record: dict[str, Any]) -> None:
    with write_session(url) as s:
        _owned(s, run_id, worker_id).reproducibility = record


def record_epoch(url: str, run_id: str, worker_id: str, epoch: int, metrics: dict[str, float],
                 seconds: float, ended_at: float, checkpoint_epoch: int) -> None:
    """Store one finished epoch exactly once, with the checkpoint that covers it."""
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        # A resumed attempt may redo an epoch whose row a crashed attempt already wrote.
        s.execute(delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch >= epoch))
        s.add(EpochMetric(run_id=run_id, epoch=epoch, seconds=seconds, values=metrics,
                          loss=metrics.get("loss"), accuracy=metrics.get("accuracy"),
                          val_loss=metrics.get("val_loss"), val_accuracy=metrics.get("val_accuracy")))
        run.epoch, run.checkpoint_epoch = epoch, checkpoint_epoch
        run.last_metrics = {"epoch": epoch, **metrics, "seconds": seconds}
        add_event(s, run_id, "epoch", {"epoch": epoch, "epochs": run.epochs, **metrics,
                                       "seconds": seconds, "ended_at": ended_at})


def forget_epochs_after(url: str, run_id: str, worker_id: str, epoch: int) -> None:
    """On resume, drop metrics of epochs the checkpoint does not cover (they are retrained)."""
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        s.execute(delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > epoch))
        run.epoch = epoch


def finish(url: str, run_id: str, worker_id: str, status: str, reason: str | None = None,
           **fields: Any) -> None:
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        for key, value in fields.items():
            setattr(run, key, value)
        _finish(run, status, reason)
        add_status_event(s, run)


def requeue(url: str, run_id: str, worker_id: str) -> None:
    """Give the run back to the queue (graceful shutdown); a cancel request wins."""
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        if run.status == "cancelling":
            _finish(run, "cancelled", "cancelled by the user")
        else:
            run.status, run.worker_id, run.lease_expires_at = "queued", None, None
        add_status_event(s, run)


def _finish(run: Run, status: str, reason: str | None) -> None:
    run.status, run.failure_reason = status, reason
    run.finished_at, run.worker_id, run.lease_expires_at = utcnow(), None, None
