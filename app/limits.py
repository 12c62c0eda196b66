"""Request body size and handler time limits, enforced in one place for every route."""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_response


class BodyLimit:
    """Rejects by Content-Length up front, and counts chunked bodies as they arrive."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            err = PayloadTooLarge(self.limit)
            response = problem_response(err.status, err.title, err.detail, type_=err.type,
                                        errors=[e.as_dict() for e in err.errors],
                                        headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise PayloadTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


# Per-route time limits, in one place: (method, path suffix or prefix) -> seconds; None = no
# limit (streams). The first match wins; unmatched routes get DEFAULT_TIMEOUT.
ROUTE_TIMEOUTS: list[tuple[str, str, float | None]] = [
    ("GET", "/events", None),  # server-sent events stay open by design
    ("GET", "/model", None),  # large downloads on slow links
    ("POST", "/predict", 30.0),
    ("POST", "/infer", 30.0),
    ("POST", "/v1/runs", 20.0),  # includes a first download of a dataset
]
DEFAULT_TIMEOUT = 15.0


def timeout_for(method: str, path: str) -> float | None:
    for rule_method, suffix, seconds in ROUTE_TIMEOUTS:
        if method == rule_method and (path.endswith(suffix) or path == suffix):
            return seconds
    return DEFAULT_TIMEOUT


class RouteTimeouts:
    """Answers 504 problem+json when a handler overruns its route's limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = timeout_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        with anyio.move_on_after(limit) as scope_:
            await self.app(scope, receive, tracked)
        if scope_.cancelled_caught and not started:
            response = problem_response(504, "Gateway timeout", f"The request took longer than "
                                        f"its limit of {limit:g} s.", type_="/problems/timeout")
            await response(scope, receive, send)
