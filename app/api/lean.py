"""The prediction routes' short way through the application.

A request normally crosses FastAPI's whole stack: server errors, exception telemetry,
FastAPI's body limit, our Observe/RouteTimeouts/BodyLimit, exception handlers, an exit
stack, the router with its included routers; each layer a coroutine of its own, most of them
wrapping ``send``. Even with only the layers that act on a prediction kept (session 6), seven
remained and cost ~140 µs of a ~330 µs single-image request in process, when the bare ONNX
Runtime app's whole request took ~200 µs (bench/README.md).

``LeanPipeline`` does for a request that matches a prediction route (app/api/predict.py)
what those layers do, in one frame and with the same objects: the app's own BodyLimit
instance refuses or counts the body, the route's time limit comes from app.limits, the app's
exception handlers turn errors into problem+json, an unexpected error gets the app's 500
answer and goes on to the server, and ``record_request`` counts, times and logs it as
Observe does every other request. A middleware this pipeline does not know stops the app
from starting, rather than being skipped for predictions. Everything else, including a wrong
method on a prediction path (405), takes the full stack.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.limits import BodyLimit, RouteTimeouts, timeout_for, timeout_response
from app.observability import Observe, record_request

Handler = Callable[[Request, Any], Awaitable[Response]]


class LeanFront:
    """In front of the full stack: prediction requests go to ``lean``, the rest to ``full``."""

    def __init__(self, full: ASGIApp, lean: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.full, self.lean, self.routes = full, lean, tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":  # predictions are POSTs
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)  # path params and the route, as the router sets them
                    await self.lean(scope, receive, send)
                    return
        await self.full(scope, receive, send)


class _Exchange:
    """One request's answer so far: what the client has been sent."""

    __slots__ = ("send", "started", "status")

    def __init__(self, send: Send) -> None:
        self.send, self.status, self.started = send, 500, False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status, self.started = message["status"], True
        await self.send(message)


class LeanPipeline:
    """The app's middleware and exception handling for a ``LeanRoute``, in one frame."""

    KNOWN = (Observe, RouteTimeouts, BodyLimit)

    def __init__(self, app: FastAPI) -> None:
        self.body_limit: BodyLimit | None = None
        for middleware in app.user_middleware:
            cls: Any = middleware.cls
            if cls is BodyLimit:
                self.body_limit = BodyLimit(None, *middleware.args, **middleware.kwargs)  # type: ignore[arg-type]
            elif cls not in self.KNOWN:
                raise RuntimeError(
                    f"{cls.__name__} is not applied to prediction requests: add what it does "
                    "to app.api.lean.LeanPipeline"
                )
        self.on_error: Handler | None = None
        self.handlers: dict[type[Exception], Handler] = {}
        for key, handler in app.exception_handlers.items():
            if not inspect.iscoroutinefunction(handler) or not isinstance(key, type):
                # Starlette would run a plain function in a thread, or look a status up first.
                raise RuntimeError(f"the handler for {key} is not an async one by class")
            if key is Exception:
                self.on_error = handler
            else:
                self.handlers[key] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, exchange = time.perf_counter(), _Exchange(send)
        try:
            await self._within_limits(scope, receive, exchange)
        except Exception as exc:  # as Starlette's ServerErrorMiddleware: answer, then re-raise
            if not exchange.started:
                response = await self._unexpected(Request(scope), exc)
                await response(scope, receive, exchange)
            raise
        finally:
            record_request(scope, exchange.status, time.perf_counter() - start)

    async def _within_limits(self, scope: Scope, receive: Receive, exchange: _Exchange) -> None:
        if self.body_limit is not None:
            refusal = self.body_limit.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, exchange)
                return
            receive = self.body_limit.counting(scope, receive)
        limit = timeout_for(scope["method"], scope["path"])
        if limit is None:
            await self._respond(scope, receive, exchange)
            return
        with anyio.move_on_after(limit) as deadline:
            await self._respond(scope, receive, exchange)
        if deadline.cancelled_caught and not exchange.started:
            await timeout_response(limit)(scope, receive, exchange)

    async def _respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await scope["route"].respond(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None

    async def _unexpected(self, request: Request, exc: Exception) -> Response:
        if self.on_error is None:
            return Response("Internal Server Error", status_code=500, media_type="text/plain")
        return await self.on_error(request, exc)


class LeanApp(FastAPI):
    """FastAPI, with ``lean_routes`` served through ``LeanPipeline``."""

    lean_routes: Sequence[BaseRoute] = ()

    def build_middleware_stack(self) -> ASGIApp:
        full = super().build_middleware_stack()
        if not self.lean_routes:
            return full
        return LeanFront(full, LeanPipeline(self), self.lean_routes)
