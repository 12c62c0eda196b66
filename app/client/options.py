"""Options every client command takes, and the client they configure."""

from __future__ import annotations

from typing import Annotated

import typer

from app.client.http import DEFAULT_URL, ApiClient, Target

UrlOption = Annotated[
    str,
    typer.Option(
        "--url", envvar="TRAINSERVE_URL", metavar="URL", help="Base URL of the trainserve server."
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="TRAINSERVE_API_KEY",
        metavar="KEY",
        show_default=False,
        help="Sent as the X-API-Key header; needed when the server has an API key set.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer as is.")]

__all__ = ["DEFAULT_URL", "ApiKeyOption", "JsonOption", "UrlOption", "connect"]


def connect(url: str, api_key: str | None) -> ApiClient:
    """A client for ``url``. TRAINSERVE_API_KEY is shared with the server, where it may list
    several comma-separated keys during a rotation; any of them works, so send the first."""
    key = (api_key or "").split(",")[0].strip() or None
    return ApiClient(Target(url=url, api_key=key))
