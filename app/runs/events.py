"""The durable per-run event feed behind ``GET /v1/runs/{id}/events``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.tables import Run, RunEvent
from app.enums import EventType


def add_event(session: Session, run_id: str, type_: EventType, data: dict[str, Any]) -> None:
    session.add(RunEvent(run_id=run_id, type=type_, data=data))


def add_status_event(session: Session, run: Run) -> None:
    add_event(
        session,
        run.id,
        EventType.STATUS,
        {"status": run.status, "attempts": run.attempts, "failure_reason": run.failure_reason},
    )
    if run.status.finished:
        add_event(
            session,
            run.id,
            EventType.DONE,
            {"status": run.status, "failure_reason": run.failure_reason},
        )


def events_after(session: Session, run_id: str, after_id: int, limit: int = 500) -> list[RunEvent]:
    stmt = (
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.id > after_id)
        .order_by(RunEvent.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
