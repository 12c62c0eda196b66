"""State transitions of a run as a job: claim, lease, progress, finish. No TensorFlow here.

Every transition is one short write transaction, fenced on ``worker_id`` so a worker that
lost its lease (and whose run was reclaimed by another) can no longer change the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import EpochMetric, Run, Worker
from app.enums import OWNED, EventType, RunStatus
from app.runs.events import add_event, add_status_event


@dataclass(frozen=True)
class Claim:
    run_id: str
    spec: dict[str, Any]
    attempts: int
    checkpoint_epoch: int
    started_at_epoch_s: float
    sweep_id: str | None = None


class LeaseLost(Exception):
    """The run is no longer ours: reclaimed after our lease expired, or deleted."""


def reap_orphans(url: str, max_attempts: int) -> None:
    """Requeue (or fail, past max_attempts) runs whose worker stopped renewing its lease."""
    now = utcnow()
    with write_session(url) as s:
        live = select(Worker.id)
        orphans = s.scalars(
            select(Run)
            .where(
                Run.status.in_(OWNED),
                or_(
                    Run.lease_expires_at < now, Run.worker_id.is_(None), Run.worker_id.not_in(live)
                ),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for run in orphans:
            if run.status == RunStatus.CANCELLING:
                _finish(
                    run, RunStatus.CANCELLED, "cancelled by the user (its worker stopped meanwhile)"
                )
            elif run.attempts >= max_attempts:
                _finish(
                    run,
                    RunStatus.FAILED,
                    f"its worker died {run.attempts} times (lease expired); "
                    f"gave up after max_attempts={max_attempts}",
                )
            else:
                _back_to_queue(run)
                run.failure_reason = None
            add_status_event(s, run)


def claim_next(
    url: str, worker_id: str, lease_seconds: float, queues: list[str] | None = None
) -> Claim | None:
    """The oldest queued run (of ``queues``, when given), now ours under a fresh lease."""
    stmt = select(Run).where(Run.status == RunStatus.QUEUED)
    if queues:
        stmt = stmt.where(Run.queue.in_(queues))
    with write_session(url) as s:
        run = s.scalars(stmt.order_by(Run.id).limit(1).with_for_update(skip_locked=True)).first()
        return None if run is None else _claim(s, run, worker_id, lease_seconds)


def claim_run(url: str, run_id: str, worker_id: str, lease_seconds: float) -> Claim | None:
    """Claim this run if it is still queued; None when another worker has it or it is done.

    This is what makes a duplicate or redelivered broker message harmless: only one claim of
    a queued run can win, and a running or finished run is never claimed again here.
    """
    with write_session(url) as s:
        run = s.scalars(
            select(Run)
            .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
            # Wait for a lock, never skip: a row locked by a redispatch or a reaper is still
            # ours to claim, and skipping it would drop the message.
            .with_for_update()
        ).first()
        return None if run is None else _claim(s, run, worker_id, lease_seconds)


def _claim(s: Any, run: Run, worker_id: str, lease_seconds: float) -> Claim:
    now = utcnow()
    run.status, run.worker_id = RunStatus.RUNNING, worker_id
    run.lease_expires_at = now + timedelta(seconds=lease_seconds)
    run.attempts += 1
    run.started_at = run.started_at or now
    add_status_event(s, run)
    return Claim(
        run.id,
        run.spec,
        run.attempts,
        run.checkpoint_epoch,
        run.started_at.timestamp(),
        run.sweep_id,
    )


def renew_lease(url: str, run_id: str, worker_id: str, lease_seconds: float) -> RunStatus:
    """Extend our lease; returns the run's status (``cancelling`` asks us to stop)."""
    with write_session(url) as s:
        run = s.get(Run, run_id)
        if run is None or run.worker_id != worker_id:
            raise LeaseLost(run_id)
        run.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
        return run.status


def read_status(url: str, run_id: str, worker_id: str) -> RunStatus:
    with read_session(url) as s:
        row = s.execute(select(Run.status, Run.worker_id).where(Run.id == run_id)).first()
    if row is None or row.worker_id != worker_id:
        raise LeaseLost(run_id)
    return RunStatus(row.status)


def _owned(s: Session, run_id: str, worker_id: str) -> Run:
    run = s.get(Run, run_id)
    if run is None or run.worker_id != worker_id or run.status not in OWNED:
        raise LeaseLost(run_id)
    return run


def set_reproducibility(url: str, run_id: str, worker_id: str, record: dict[str, Any]) -> None:
    with write_session(url) as s:
        _owned(s, run_id, worker_id).reproducibility = record


def record_epoch(
    url: str,
    run_id: str,
    worker_id: str,
    epoch: int,
    metrics: dict[str, float],
    seconds: float,
    ended_at: float,
    checkpoint_epoch: int,
) -> None:
    """Store one finished epoch exactly once, with the checkpoint that covers it."""
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        # A resumed attempt may redo an epoch whose row a crashed attempt already wrote.
        s.execute(
            delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch >= epoch)
        )
        s.add(
            EpochMetric(
                run_id=run_id,
                epoch=epoch,
                seconds=seconds,
                values=metrics,
                loss=metrics.get("loss"),
                accuracy=metrics.get("accuracy"),
                val_loss=metrics.get("val_loss"),
                val_accuracy=metrics.get("val_accuracy"),
            )
        )
        run.epoch, run.checkpoint_epoch = epoch, checkpoint_epoch
        run.last_metrics = {"epoch": epoch, **metrics, "seconds": seconds}
        add_event(
            s,
            run_id,
            EventType.EPOCH,
            {
                "epoch": epoch,
                "epochs": run.epochs,
                **metrics,
                "seconds": seconds,
                "ended_at": ended_at,
            },
        )


def forget_epochs_after(url: str, run_id: str, worker_id: str, epoch: int) -> None:
    """On resume, drop metrics of epochs the checkpoint does not cover (they are retrained)."""
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        s.execute(
            delete(EpochMetric).where(EpochMetric.run_id == run_id, EpochMetric.epoch > epoch)
        )
        run.epoch = epoch


def finish(
    url: str,
    run_id: str,
    worker_id: str,
    status: RunStatus,
    reason: str | None = None,
    **fields: Any,
) -> None:
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        for key, value in fields.items():
            setattr(run, key, value)
        _finish(run, status, reason)
        add_status_event(s, run)


def requeue(url: str, run_id: str, worker_id: str) -> RunStatus:
    """Give the run back to the queue (graceful shutdown); a cancel request wins. Returns the
    run's new status.

    The attempt is handed back, not used up: only crashes count towards ``max_attempts``, so
    rolling restarts of healthy workers can never fail a run.
    """
    with write_session(url) as s:
        run = _owned(s, run_id, worker_id)
        if run.status == RunStatus.CANCELLING:
            _finish(run, RunStatus.CANCELLED, "cancelled by the user")
        else:
            _back_to_queue(run)
            run.attempts = max(0, run.attempts - 1)  # a hand-back, not a crash
        add_status_event(s, run)
        return run.status


def _back_to_queue(run: Run) -> None:
    # dispatched_at None: a broker message must be sent again (app.dispatch.outbox); the one
    # that started the last attempt was consumed.
    run.status, run.worker_id, run.lease_expires_at = RunStatus.QUEUED, None, None
    run.dispatched_at = None


def _finish(run: Run, status: RunStatus, reason: str | None) -> None:
    run.status, run.failure_reason = status, reason
    run.finished_at, run.worker_id, run.lease_expires_at = utcnow(), None, None
