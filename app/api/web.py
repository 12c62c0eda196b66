"""The dashboard and the API docs: static files shipped in the package, nothing from a CDN.

Self-hosted machines are often offline or firewalled, so Swagger UI, ReDoc and the chart
library are vendored under ``app/web/static/vendor`` (see its README for versions).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

STATIC_PREFIX = "/static"
_VENDOR = f"{STATIC_PREFIX}/vendor"
_FAVICON = f"{_VENDOR}/swagger-ui/favicon-32x32.png"


def static_files() -> StaticFiles:
    # package= resolves the folder inside the installed package, wheel or editable alike.
    return StaticFiles(packages=[("app.web", "static")])


@cache  # a packaged file: read once per process
def _page() -> str:
    return files("app.web").joinpath("static", "index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    # The page holds no data: it asks the API (with the key the user types) for everything.
    return HTMLResponse(_page())


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="trainserve API",
        swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=_FAVICON,
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="trainserve API",
        redoc_js_url=f"{_VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url=_FAVICON,
        with_google_fonts=False,
    )
