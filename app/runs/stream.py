"""Server-sent events for one run, read from the durable event table.

Polling the table is what lets any API process serve a stream fed by worker processes,
and what makes Last-Event-ID resume exact across restarts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request

from app.db.session import read_session
from app.runs.events import events_after
from app.settings import Settings

POLL_SECONDS = 0.05


def _read(settings: Settings, run_id: str, after: int) -> list[tuple[int, str, dict[str, Any]]]:
    with read_session(settings.resolved_database_url) as session:
        return [(e.id, e.type, e.data) for e in events_after(session, run_id, after)]


async def run_event_stream(settings: Settings, run_id: str, after: int,
                           request: Request) -> AsyncIterator[dict[str, Any]]:
    while not await request.is_disconnected():
        batch = await anyio.to_thread.run_sync(_read, settings, run_id, after)
        for event_id, type_, data in batch:
            after = event_id
            yield {"id": str(event_id), "event": type_, "data": json.dumps(data)}
            if type_ == "done":
                return
        if not batch:
            await anyio.sleep(POLL_SECONDS)
