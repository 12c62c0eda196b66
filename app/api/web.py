"""The web page: one static file that talks to the public API like any other client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@cache  # a packaged file: read once per process
def _page() -> str:
    return files("app.web").joinpath("index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    # The page holds no data: it asks the API (with the key the user types) for everything.
    return HTMLResponse(_page())
