"""Failures the CLI reports as a message on stderr (never a traceback), and their exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import typer

EXIT_RUN_FAILED = 1  # a watched run ended failed or cancelled
EXIT_REJECTED = 2  # the server answered 4xx, or the command line / local input is wrong
EXIT_UNREACHABLE = 3  # no answer from the server: refused, DNS, timeout, dropped stream
EXIT_SERVER_ERROR = 4  # the server answered 5xx

PROBLEM_JSON = "application/problem+json"


@dataclass
class CliError(Exception):
    """An expected failure: ``message`` and ``details`` go to stderr, then exit ``exit_code``."""

    message: str
    exit_code: int = EXIT_REJECTED
    details: list[str] = field(default_factory=list)
    status: int | None = None  # the HTTP status, when the server answered

    def __str__(self) -> str:
        return self.message


def format_field_error(entry: dict[str, Any]) -> str:
    """One ``errors[]``/``warnings[]`` entry as ``pointer: message (hint)``."""
    pointer = entry.get("pointer") or "(body)"
    line = f"{pointer}: {entry.get('message', '')}"
    return f"{line} ({entry['hint']})" if entry.get("hint") else line


def error_from_response(resp: httpx.Response) -> CliError:
    """The error for a non-2xx answer, from its problem details when the server sent them."""
    code = EXIT_REJECTED if resp.status_code < 500 else EXIT_SERVER_ERROR
    head = f"HTTP {resp.status_code} {resp.reason_phrase}".rstrip()
    problem = _problem(resp)
    if problem is None:
        text = resp.text.strip()[:300]
        return CliError(
            f"{head} from {resp.request.method} {resp.request.url}" + (f": {text}" if text else ""),
            code,
            status=resp.status_code,
        )
    detail = problem.get("detail") or problem.get("title") or ""
    errors = problem.get("errors") or []
    details = [format_field_error(e) for e in errors if isinstance(e, dict)]
    return CliError(f"{head}: {detail}" if detail else head, code, details, resp.status_code)


def _problem(resp: httpx.Response) -> dict[str, Any] | None:
    content_type = resp.headers.get("content-type", "")
    if not (content_type.startswith((PROBLEM_JSON, "application/json"))):
        return None
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and ("detail" in body or "title" in body) else None


def transport_error(url: str, exc: httpx.TransportError) -> CliError:
    """The error for a request that got no HTTP answer at all."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        message = f"the server at {url} did not answer in time ({type(exc).__name__})"
    elif isinstance(exc, httpx.UnsupportedProtocol):
        return CliError(f"invalid server URL {url!r}: {reason}", EXIT_REJECTED)
    else:
        message = f"cannot reach the server at {url}: {reason}"
    hint = (
        "is `trainserve serve` running there? Point the CLI elsewhere with --url or TRAINSERVE_URL."
    )
    return CliError(message, EXIT_UNREACHABLE, [hint])


def report(exc: CliError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    for line in exc.details:
        typer.echo(f"  {line}", err=True)


@contextmanager
def reported() -> Iterator[None]:
    """Turn a ``CliError`` raised inside into its message on stderr and its exit code."""
    try:
        yield
    except CliError as exc:
        report(exc)
        raise typer.Exit(exc.exit_code) from None
