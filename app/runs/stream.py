"""Server-sent events for one run, read from the durable event table.

Polling the table is what lets any API process serve a stream fed by worker processes,
and what makes Last-Event-ID resume exact across restarts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sqlalchemy import select
from starlette.requests import Request

from app.db.session import read_session
from app.db.tables import Run
from app.enums import EventType
from app.runs.events import events_after
from app.settings import Settings

POLL_SECONDS = 0.05


def _read(
    settings: Settings, run_id: str, after: int
) -> tuple[list[tuple[int, EventType, dict[str, Any]]], bool]:
    """Events after ``after``, and whether the stream is over (the run is gone or finished
    and the client has already seen its ``done``)."""
    with read_session(settings.resolved_database_url) as session:
        # The run first: on PostgreSQL each statement sees its own snapshot, and the status
        # that finishes a run commits with its ``done`` event. Read the other way round, a
        # commit between the two reads ended the stream without its ``done``.
        status = session.scalar(select(Run.status).where(Run.id == run_id))
        over = status is None or status.finished
        batch = [(e.id, e.type, e.data) for e in events_after(session, run_id, after)]
        return batch, over and not batch


async def run_event_stream(
    settings: Settings, run_id: str, after: int, request: Request
) -> AsyncIterator[dict[str, Any]]:
    while not await request.is_disconnected():
        batch, over = await anyio.to_thread.run_sync(_read, settings, run_id, after)
        if over:
            return
        for event_id, type_, data in batch:
            after = event_id
            yield {"id": str(event_id), "event": type_, "data": json.dumps(data)}
            if type_ == EventType.DONE:
                return
        if not batch:
            await anyio.sleep(POLL_SECONDS)
