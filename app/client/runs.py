"""`trainserve submit` and `trainserve runs ...`: training runs on a running server."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from app.client.errors import EXIT_REJECTED, EXIT_RUN_FAILED, CliError, format_field_error, reported
from app.client.http import ApiClient, segment
from app.client.options import DEFAULT_URL, ApiKeyOption, JsonOption, UrlOption, connect
from app.client.render import (
    comparison_table,
    final_line,
    make_console,
    run_summary,
    runs_table,
)
from app.client.watch import watch_run

runs_app = typer.Typer(
    help="List, inspect, follow, cancel and delete training runs.", no_args_is_help=True
)

RunIdArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")]
WatchOption = Annotated[
    bool,
    typer.Option(
        "--watch",
        "-w",
        help="Follow the run with a progress bar until it finishes; exit 1 unless it succeeds.",
    ),
]


class Status(StrEnum):
    queued = "queued"
    running = "running"
    cancelling = "cancelling"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


def load_spec(path: Path, name: str | None) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            EXIT_REJECTED,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", EXIT_REJECTED) from None
    if not isinstance(spec, dict):
        raise CliError(f"{path} must hold a JSON object (a run spec)", EXIT_REJECTED)
    return {**spec, "name": name} if name else spec


def submit(
    spec: Annotated[
        Path,
        typer.Argument(
            metavar="SPEC.json",
            exists=True,
            dir_okay=False,
            help="The run spec (see models/*.json).",
        ),
    ],
    watch: WatchOption = False,
    name: Annotated[str | None, typer.Option(help="Override the spec's name.")] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Submitting again with the same key and spec returns the same run."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run id.")] = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Submit a run spec for training (POST /v1/runs)."""
    console = make_console()
    with reported(), connect(url, api_key) as client:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        resp = client.request("POST", "/v1/runs", json=load_spec(spec, name), headers=headers)
        run: dict[str, Any] = resp.json()
        if quiet:
            typer.echo(run["id"])
        else:
            replay = " (existing run for this Idempotency-Key)" if resp.status_code == 200 else ""
            typer.echo(
                f"submitted run {run['id']} ({run.get('name')}): {run.get('status')}{replay}"
            )
            typer.echo(f"Location: {client.url}{resp.headers.get('location', '')}")
        for warning in run.get("warnings") or []:
            typer.echo(f"warning: {format_field_error(warning)}", err=True)
        if watch:
            _watch_to_end(client, run, console)


def _watch_to_end(client: ApiClient, run: dict[str, Any], console: Console) -> None:
    try:
        final = watch_run(client, run, console)
    except KeyboardInterrupt:
        typer.echo(
            f"\nstopped watching; run {run['id']} goes on "
            f"(`trainserve runs cancel {run['id']}` stops it)",
            err=True,
        )
        raise typer.Exit(130) from None
    console.print(final_line(final))
    if final.get("status") != "succeeded":
        raise typer.Exit(EXIT_RUN_FAILED)


@runs_app.command("list")
def list_runs(
    status: Annotated[Status | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many runs.")] = 20,
    cursor: Annotated[str | None, typer.Option(help="Continue a previous listing.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List runs, newest first (GET /v1/runs)."""
    params: dict[str, str | int] = {"limit": limit}
    if status:
        params["status"] = status.value
    if cursor:
        params["cursor"] = cursor
    with reported(), connect(url, api_key) as client:
        page = client.json("GET", "/v1/runs", params=params)
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    items = page.get("items") or []
    if items:
        make_console().print(runs_table(items))
    else:
        typer.echo("no runs" + (f" with status {status.value}" if status else ""))
    if page.get("next_cursor"):
        typer.echo(f"more: --cursor {page['next_cursor']}", err=True)


@runs_app.command("compare")
def compare_runs(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID...", help="2 to 10 run ids.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Runs side by side: results, then every spec difference; * marks the best (GET
    /v1/runs/compare)."""
    with reported(), connect(url, api_key) as client:
        comparison = client.json("GET", "/v1/runs/compare", params={"ids": run_ids})
    if as_json:
        typer.echo(json.dumps(comparison, indent=2))
        return
    make_console().print(comparison_table(comparison))
    for warning in comparison.get("warnings") or []:
        typer.echo(f"warning: {format_field_error(warning)}", err=True)


@runs_app.command("show")
def show_run(
    run_id: RunIdArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show one run (GET /v1/runs/{id})."""
    with reported(), connect(url, api_key) as client:
        run = client.json("GET", f"/v1/runs/{segment(run_id)}")
    typer.echo(json.dumps(run, indent=2) if as_json else "\n".join(run_summary(run)))


@runs_app.command("watch")
def watch(run_id: RunIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None) -> None:
    """Follow a run until it finishes; exit 1 unless it succeeds."""
    with reported(), connect(url, api_key) as client:
        _watch_to_end(client, client.json("GET", f"/v1/runs/{segment(run_id)}"), make_console())


@runs_app.command("cancel")
def cancel_run(
    run_id: RunIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Cancel a queued or running run (POST /v1/runs/{id}/cancel)."""
    with reported(), connect(url, api_key) as client:
        run = client.json("POST", f"/v1/runs/{segment(run_id)}/cancel")
    typer.echo(f"run {run_id}: {run.get('status')}")


@runs_app.command("delete")
def delete_run(
    run_id: RunIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Delete a finished run and its artifacts (DELETE /v1/runs/{id})."""
    with reported(), connect(url, api_key) as client:
        client.request("DELETE", f"/v1/runs/{segment(run_id)}")
    typer.echo(f"deleted run {run_id}")
