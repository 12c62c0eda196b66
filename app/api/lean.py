"""The prediction routes' short way through the application.

A request normally crosses FastAPI's whole stack: server errors, exception telemetry,
FastAPI's body limit, our Observe/RouteTimeouts/BodyLimit, exception handlers, an exit
stack, the router with its included routers; ten layers, each wrapping ``send``, which cost
a small model's prediction more than its forward pass (py-spy, bench/README.md). A request
that matches a prediction route (app/api/predict.py) takes only the layers that act on it,
in the same order and built from the same objects: the server-error handler, every middleware
the app added (so metrics, access log, time and body limits are the same), the exception
handlers, the route. FastAPI's body limit and telemetry are unset here, so they did nothing
for these routes; the exit stack holds nothing for a ``LeanRoute``. Everything else,
including a wrong method on a prediction path (405), takes the full stack.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send


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


def lean_stack(app: FastAPI) -> ASGIApp:
    """The layers a prediction request needs, outermost first, as FastAPI builds them."""
    error_handler = None
    handlers = {}
    for key, value in app.exception_handlers.items():
        if key in (500, Exception):
            error_handler = value
        else:
            handlers[key] = value

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("router", app.router)
        await scope["route"].handle(scope, receive, send)

    inner: ASGIApp = ExceptionMiddleware(route, handlers=handlers, debug=app.debug)
    for cls, args, kwargs in reversed(app.user_middleware):
        inner = cls(inner, *args, **kwargs)
    return ServerErrorMiddleware(inner, handler=error_handler, debug=app.debug)


class LeanApp(FastAPI):
    """FastAPI, with ``lean_routes`` served through ``lean_stack``."""

    lean_routes: Sequence[BaseRoute] = ()

    def build_middleware_stack(self) -> ASGIApp:
        full = super().build_middleware_stack()
        if not self.lean_routes:
            return full
        return LeanFront(full, lean_stack(self), self.lean_routes)
