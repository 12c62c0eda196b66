"""Request body size and handler time limits, enforced in one place for every route."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_response, service_error_response


@dataclass(frozen=True)
class UploadLimit:
    """A route that takes larger bodies than the default (dataset uploads), and its hint."""

    method: str
    path: str
    limit: int
    hint: str


class BodyLimit:
    """Rejects by Content-Length up front, and counts chunked bodies as they arrive."""

    def __init__(self, app: ASGIApp, limit: int, uploads: tuple[UploadLimit, ...] = ()) -> None:
        self.app, self.limit, self.uploads = app, limit, uploads

    def _limit_for(self, scope: Scope) -> tuple[int, str | None]:
        for rule in self.uploads:
            if scope["method"] == rule.method and scope["path"].rstrip("/") == rule.path:
                return rule.limit, rule.hint
        return self.limit, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, self.counting(scope, receive), send)

    def refusal(self, scope: Scope) -> Response | None:
        """The 413 answer for a body whose declared length is over the limit, before any of
        it is read; None for the others."""
        declared = _content_length(scope)
        if declared is None or declared <= self._limit_for(scope)[0]:
            return None
        return service_error_response(self._too_large(scope), headers={"Connection": "close"})

    def counting(self, scope: Scope, receive: Receive) -> Receive:
        """``receive``, raising PayloadTooLarge once a body without a declared length is over
        the limit. A declared length that passed ``refusal`` is kept by the server (it reads
        no further), so such requests keep ``receive`` itself: a wrapper per request and per
        chunk cost a small prediction a few µs for nothing."""
        if _content_length(scope) is not None:
            return receive
        limit, received = self._limit_for(scope)[0], 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large(scope)
            return message

        return counted

    def _too_large(self, scope: Scope) -> PayloadTooLarge:
        limit, hint = self._limit_for(scope)
        return PayloadTooLarge(limit, hint) if hint else PayloadTooLarge(limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


# Per-route time limits, in one place: (method, path suffix or prefix) -> seconds; None = no
# limit (streams). The first match wins; unmatched routes get DEFAULT_TIMEOUT.
ROUTE_TIMEOUTS: list[tuple[str, str, float | None]] = [
    ("GET", "/events", None),  # server-sent events stay open by design
    ("GET", "/model", None),  # large downloads on slow links
    ("POST", "/predict", 30.0),
    ("POST", "/infer", 30.0),
    ("POST", "/v1/runs", 20.0),  # includes a first download of a dataset
    # Uploads convert in a worker thread that a timeout could not stop: answering 504 while
    # it goes on to commit would tell the user a stored dataset failed.
    ("POST", "/v1/datasets", None),
    ("GET", "/preview.png", 60.0),  # a built-in's first preview loads its data
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
            await timeout_response(limit)(scope, receive, send)


def timeout_response(limit: float) -> Response:
    return problem_response(
        504,
        "Gateway timeout",
        f"The request took longer than its limit of {limit:g} s.",
        type_="/problems/timeout",
    )
