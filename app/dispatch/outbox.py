"""The database side of dispatch: which queued runs still need a message.

``runs.dispatched_at`` is set once a broker accepted a run's message and cleared whenever
the run goes back to the queue; a run accepted while the broker was down keeps it NULL
until a ``redispatch`` gets it through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import Run
from app.enums import RunStatus


def undispatched(url: str, queue: str, limit: int = 500) -> list[str]:
    # Runs created this very second are being announced by the API that accepted them.
    settled = utcnow() - timedelta(seconds=2)
    with read_session(url) as s:
        return list(
            s.scalars(
                select(Run.id)
                .where(
                    Run.status == RunStatus.QUEUED,
                    Run.queue == queue,
                    Run.dispatched_at.is_(None),
                    Run.created_at < settled,
                )
                .order_by(Run.id)
                .limit(limit)
            )
        )


def waiting(url: str, queue: str, dispatched_before: datetime, limit: int) -> tuple[int, list[str]]:
    """How many runs of ``queue`` are queued, and the oldest-dispatched of those announced
    before ``dispatched_before`` (candidates to announce again)."""
    with read_session(url) as s:
        total = s.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.status == RunStatus.QUEUED, Run.queue == queue)
        )
        stale = list(
            s.scalars(
                select(Run.id)
                .where(
                    Run.status == RunStatus.QUEUED,
                    Run.queue == queue,
                    Run.dispatched_at < dispatched_before,
                )
                .order_by(Run.dispatched_at)
                .limit(limit)
            )
        )
    return int(total or 0), stale


def mark_dispatched(url: str, run_ids: list[str]) -> None:
    if run_ids:
        with write_session(url) as s:
            s.execute(
                update(Run)
                .where(Run.id.in_(run_ids), Run.status == RunStatus.QUEUED)
                .values(dispatched_at=utcnow())
            )


def queued_by_queue(url: str) -> dict[str, int]:
    with read_session(url) as s:
        rows = s.execute(
            select(Run.queue, func.count())
            .where(Run.status == RunStatus.QUEUED)
            .group_by(Run.queue)
        ).all()
    return {queue: int(n) for queue, n in rows}


def stale_before(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
