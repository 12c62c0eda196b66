"""`trainserve sweep SPEC.json --watch` and `trainserve sweeps ...`: sweeps on a server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from app.client.errors import EXIT_RUN_FAILED, format_field_error, reported
from app.client.http import ApiClient, segment
from app.client.options import DEFAULT_URL, ApiKeyOption, JsonOption, UrlOption, connect
from app.client.render import make_console, number
from app.client.runs import load_spec

sweeps_app = typer.Typer(help="List, show, cancel and delete sweeps.", no_args_is_help=True)
SweepIdArg = Annotated[str, typer.Argument(metavar="SWEEP_ID", help="The sweep's id.")]
FINISHED = {"succeeded", "failed", "cancelled"}
POLL_SECONDS = 1.0


def sweep_table(sweep: dict[str, Any]) -> Table:
    """One row per trial: its parameters, status, epoch and objective; * marks the best."""
    objective = sweep.get("spec", {}).get("objective", {})
    pointers = list(sweep.get("spec", {}).get("space", {}))
    best = (sweep.get("best") or {}).get("run_id")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("#", "run", "status", "epoch", *pointers, objective.get("metric", "objective")):
        table.add_column(name, no_wrap=True)
    for trial in sweep.get("trials") or []:
        status = "pruned" if trial.get("pruned") else trial.get("status", "?")
        progress = trial.get("progress") or {}
        table.add_row(
            str(trial.get("number", "")),
            trial.get("run_id", "?"),
            status,
            f"{progress.get('epoch', 0)}/{progress.get('epochs', '?')}",
            *(_value(trial.get("params", {}).get(p)) for p in pointers),
            number(trial.get("objective")) + (" *" if trial.get("run_id") == best else ""),
        )
    return table


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value)


def headline(sweep: dict[str, Any]) -> str:
    spec = sweep.get("spec", {})
    counts = ", ".join(f"{n} {s}" for s, n in sorted((sweep.get("counts") or {}).items()))
    line = (
        f"sweep {sweep.get('id')} ({sweep.get('name')}): {sweep.get('status')}; "
        f"{spec.get('method')} over {len(sweep.get('trials') or [])}/{spec.get('max_runs')} "
        f"trials" + (f" ({counts})" if counts else "")
    )
    best = sweep.get("best")
    if best:
        line += f"; best {best['run_id']} {number(best['objective'])}"
    return line


def _done(sweep: dict[str, Any]) -> bool:
    trials = sweep.get("trials") or []
    return sweep.get("status") != "running" and all(t.get("status") in FINISHED for t in trials)


def watch_sweep(client: ApiClient, sweep: dict[str, Any], console: Console) -> dict[str, Any]:
    """Redraw the trials table until the sweep and its trials are finished."""
    path = f"/v1/sweeps/{segment(sweep['id'])}"

    def view(current: dict[str, Any]) -> Group:
        return Group(Text(headline(current)), sweep_table(current))

    with Live(view(sweep), console=console, auto_refresh=False, transient=False) as live:
        while not _done(sweep):
            time.sleep(POLL_SECONDS)
            sweep = client.json("GET", path)
            live.update(view(sweep), refresh=True)
    return sweep  # Live leaves its last frame on screen (in a pipe: printed once, at the end)


def sweep(
    spec: Annotated[
        Path,
        typer.Argument(
            metavar="SPEC.json", exists=True, dir_okay=False, help="The sweep (base, space, ...)."
        ),
    ],
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Show a live table of the trials until the sweep finishes."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the sweep id.")] = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Start a sweep: trials of a base spec over a search space (POST /v1/sweeps)."""
    console = make_console()
    with reported(), connect(url, api_key) as client:
        created: dict[str, Any] = client.json("POST", "/v1/sweeps", json=load_spec(spec, None))
        if quiet:
            typer.echo(created["id"])
        else:
            typer.echo(headline(created))
        for warning in created.get("warnings") or []:
            typer.echo(f"warning: {format_field_error(warning)}", err=True)
        if not watch:
            return
        try:
            final = watch_sweep(client, created, console)
        except KeyboardInterrupt:
            typer.echo(
                f"\nstopped watching; sweep {created['id']} goes on "
                f"(`trainserve sweeps cancel {created['id']}` stops it)",
                err=True,
            )
            raise typer.Exit(130) from None
    if final.get("status") != "succeeded":
        raise typer.Exit(EXIT_RUN_FAILED)


@sweeps_app.command("list")
def list_sweeps(
    as_json: JsonOption = False, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """List sweeps, newest first (GET /v1/sweeps)."""
    with reported(), connect(url, api_key) as client:
        page = client.json("GET", "/v1/sweeps")
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    for item in page.get("items") or []:
        typer.echo(headline(item))
    if not page.get("items"):
        typer.echo("no sweeps")


@sweeps_app.command("show")
def show_sweep(
    sweep_id: SweepIdArg,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show a sweep and its trials (GET /v1/sweeps/{id})."""
    with reported(), connect(url, api_key) as client:
        found = client.json("GET", f"/v1/sweeps/{segment(sweep_id)}")
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    console = make_console()
    console.print(headline(found))
    console.print(sweep_table(found))


@sweeps_app.command("watch")
def watch(sweep_id: SweepIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None) -> None:
    """Follow a sweep with a live table; exit 1 unless it succeeds."""
    with reported(), connect(url, api_key) as client:
        found = client.json("GET", f"/v1/sweeps/{segment(sweep_id)}")
        final = watch_sweep(client, found, make_console())
    if final.get("status") != "succeeded":
        raise typer.Exit(EXIT_RUN_FAILED)


@sweeps_app.command("cancel")
def cancel_sweep(
    sweep_id: SweepIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Cancel a sweep: no new trials; queued and running ones are cancelled."""
    with reported(), connect(url, api_key) as client:
        found = client.json("POST", f"/v1/sweeps/{segment(sweep_id)}/cancel")
    typer.echo(headline(found))


@sweeps_app.command("delete")
def delete_sweep(
    sweep_id: SweepIdArg, url: UrlOption = DEFAULT_URL, api_key: ApiKeyOption = None
) -> None:
    """Delete a finished sweep and its trial runs (DELETE /v1/sweeps/{id})."""
    with reported(), connect(url, api_key) as client:
        client.request("DELETE", f"/v1/sweeps/{segment(sweep_id)}")
    typer.echo(f"deleted sweep {sweep_id}")
