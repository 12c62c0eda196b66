"""Reading ``text/event-stream`` answers; following a run's events across dropped connections."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.client.errors import EXIT_UNREACHABLE, CliError
from app.client.http import ApiClient

STREAM_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=60.0)  # the server pings every 10 s


@dataclass(frozen=True)
class Event:
    event: str
    data: str
    id: str | None = None

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class SseParser:
    """Incremental parser of the event-stream format (WHATWG HTML, 'server-sent events')."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Event | None:
        """Take one line (without its line break); returns an event when a blank line ends one."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. the server's keep-alive ping
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        event = (
            Event(self._event or "message", "\n".join(self._data), self._id) if self._data else None
        )
        self._event, self._data = "", []
        return event  # the id stays: it is the resume point until the next one


def parse_lines(lines: Iterable[str]) -> Iterator[Event]:
    parser = SseParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


def follow_run_events(
    client: ApiClient,
    run_id: str,
    *,
    max_retries: int = 8,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Every event of the run until ``done``; reconnects with Last-Event-ID when the stream
    drops, giving up after ``max_retries`` consecutive attempts that brought nothing new."""
    last_id: str | None = None
    failures = 0
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with client.stream(
                "GET", f"/v1/runs/{run_id}/events", headers=headers, timeout=STREAM_TIMEOUT
            ) as resp:
                for event in parse_lines(resp.iter_lines()):
                    failures = 0
                    last_id = event.id or last_id
                    yield event
                    if event.event == "done":
                        return
            reason = "the server closed the event stream early"
        except httpx.TransportError as exc:
            reason = f"the event stream broke ({type(exc).__name__})"
        except CliError as exc:
            if exc.exit_code != EXIT_UNREACHABLE:
                raise
            reason = exc.message
        failures += 1
        if failures > max_retries:
            raise CliError(
                f"stopped following run {run_id}: {reason}",
                EXIT_UNREACHABLE,
                [
                    f"the run itself is not affected; check it later with `trainserve runs show {run_id}`"
                ],
            )
        sleep(min(0.5 * 2 ** (failures - 1), 5.0))
