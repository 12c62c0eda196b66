"""A thin httpx wrapper: base URL, API key, and every failure turned into a ``CliError``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from app.client.errors import (
    EXIT_REJECTED,
    EXIT_SERVER_ERROR,
    CliError,
    error_from_response,
    transport_error,
)

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass(frozen=True)
class Target:
    """Where the server is and how to authenticate to it."""

    url: str = DEFAULT_URL
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}


def _checked_url(url: str) -> str:
    problem = "it must look like http://HOST:PORT"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        problem = str(exc)
    else:
        if parsed.scheme in ("http", "https") and parsed.host:
            return url.rstrip("/")
    raise CliError(f"invalid server URL {url!r}: {problem}", EXIT_REJECTED)


class ApiClient:
    """Requests against one server; a non-2xx answer or no answer raises ``CliError``."""

    def __init__(self, target: Target, *, transport: httpx.BaseTransport | None = None) -> None:
        self.url = _checked_url(target.url)
        self._http = httpx.Client(
            base_url=self.url, headers=target.headers(), timeout=TIMEOUT, transport=transport
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(self.url, exc) from None
        if resp.is_error:
            raise error_from_response(resp)
        return resp

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.request(method, path, **kwargs)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise CliError(
                f"{method} {path} answered {resp.status_code} with a body that is not JSON",
                EXIT_SERVER_ERROR,
            ) from None

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed answer; transport errors while *connecting* become ``CliError``, those
        while reading are left to the caller (it may want to resume)."""
        request = self._http.build_request(method, path, **kwargs)
        try:
            resp = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise transport_error(self.url, exc) from None
        try:
            if resp.is_error:
                resp.read()
                raise error_from_response(resp)
            yield resp
        finally:
            resp.close()


def segment(value: str) -> str:
    """``value`` as one URL path segment (an id or name typed by the user)."""
    return quote(value, safe="")
