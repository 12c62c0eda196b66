"""The worker registry: which worker processes are alive, by heartbeat. ``/readyz`` reads it,
the reaper uses it to tell a dead worker's runs from a busy one's, and a pool start uses it
to forget the workers of a previous life of its host."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import Worker


def register_worker(url: str, worker_id: str) -> None:
    with write_session(url) as s:
        s.merge(
            Worker(
                id=worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=utcnow(),
                heartbeat_at=utcnow(),
            )
        )


def worker_heartbeat(url: str, worker_id: str, run_id: str | None) -> None:
    with write_session(url) as s:
        result = s.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(heartbeat_at=utcnow(), run_id=run_id)
        )
        updated = cast(CursorResult[Any], result).rowcount
        if not updated:
            # Someone judged us dead (e.g. a pool on another container sharing our hostname):
            # come back rather than stay invisible to /readyz forever.
            s.add(
                Worker(
                    id=worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    run_id=run_id,
                )
            )


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
        rows = s.execute(
            select(Worker.id, Worker.pid).where(
                Worker.hostname == host, Worker.heartbeat_at < since
            )
        ).all()
    return [wid for wid, pid in rows if not _pid_alive(pid)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def leader(url: str, fresh_for: float) -> str | None:
    """The longest-registered worker that still beats: the one that does cluster-wide chores
    (the store sweep) so that N workers do not all list the store. Two workers may both
    believe they lead while the registry changes; every chore is safe to run twice."""
    since = utcnow() - timedelta(seconds=fresh_for)
    with read_session(url) as s:
        return s.scalar(
            select(Worker.id)
            .where(Worker.heartbeat_at >= since)
            .order_by(Worker.started_at, Worker.id)
            .limit(1)
        )
