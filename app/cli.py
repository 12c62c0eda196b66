"""The `trainserve` command: run the service (serve, worker, migrate, gc)."""

from __future__ import annotations

import gc as collector  # `gc` is a command below
import os
import signal
import sys
from typing import Annotated

# `serve` builds the API with the cycle collector off, then freezes what it built (see serve):
# its imports create ~180,000 objects that live as long as the process, and the collections
# they triggered walked them over and over, ~0.13 s of a ~1.6 s start. Decided before the
# first import, from the command line, as main() decides which commands to load.
if sys.argv[1:2] == ["serve"]:
    collector.disable()

import typer

from app.settings import get_settings

cli = typer.Typer(
    help="Train Keras networks over HTTP and serve their predictions.",
    no_args_is_help=True,
    add_completion=False,
)


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the version this code needs."""
    from app.db.migrations import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo(f"database at head: {settings.resolved_database_url}")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: TRAINSERVE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: TRAINSERVE_PORT")] = None,
    workers: Annotated[
        int | None, typer.Option(help="worker processes; default: TRAINSERVE_WORKERS")
    ] = None,
) -> None:
    """Start the API and a supervised pool of training workers."""
    # numpy's OpenBLAS started a thread per core at import, ~0.1 s of CPU at start-up, for an
    # API process that multiplies no matrices with it (ONNX Runtime has its own threads).
    # Only for this process: the training workers it spawns get the environment as it was.
    ours = "OPENBLAS_NUM_THREADS" not in os.environ
    if ours:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    import numpy  # noqa: F401  (OpenBLAS reads the variable when numpy loads it)

    if ours:
        del os.environ["OPENBLAS_NUM_THREADS"]
    import uvicorn

    from app.dispatch import dispatcher_for
    from app.logs import configure_logging
    from app.main import create_app
    from app.server import AnnouncingServer
    from app.training.pool import WorkerPool

    settings = get_settings()
    requested = settings.workers if workers is None else workers
    pool_size = dispatcher_for(settings).local_pool_size(requested)
    settings = settings.model_copy(update={"workers": pool_size})
    configure_logging(background=True)
    app = create_app(settings)
    # Everything so far lives as long as the process: out of the collector's walks for good,
    # with the ~0.6 MB of start-up garbage a collection would have freed (one costs ~75 ms).
    collector.freeze()
    collector.enable()
    pool = WorkerPool(settings)
    pool.start()
    # uvicorn re-raises the signal that stopped it once it is done; a Python-level handler
    # turns that into a no-op so the `finally` below still drains the pool.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        # log_config=None: uvicorn's dictConfig would close our handlers (see app.logs).
        config = uvicorn.Config(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_level="warning",
            log_config=None,
            timeout_graceful_shutdown=5,
        )
        AnnouncingServer(config, workers=pool.size).run()
    finally:
        pool.stop()


@cli.command()
def worker(
    concurrency: Annotated[
        int, typer.Option(help="runs trained at once (Celery pool children)", min=1)
    ] = 1,
) -> None:
    """Run a training worker (for scaling out beside `serve --workers 0`).

    With TRAINSERVE_QUEUE=celery it is a Celery worker on TRAINSERVE_WORKER_QUEUES (default:
    all of TRAINSERVE_QUEUES); otherwise one process polling the database.
    """
    from app.dispatch import dispatcher_for

    settings = get_settings()
    dispatcher_for(settings).run_worker(settings, concurrency)


@cli.command()
def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="list what would be deleted; delete nothing")
    ] = False,
    grace: Annotated[
        float | None,
        typer.Option(
            help="keep unnamed objects younger than this (s); default: TRAINSERVE_GC_GRACE_SECONDS",
            min=0,
        ),
    ] = None,
) -> None:
    """Delete stored objects no run or dataset names (crash leftovers, old checkpoints).

    Workers do this on their own every TRAINSERVE_GC_INTERVAL_SECONDS; this runs it now.
    """
    from app.storage import StoreError, store_for
    from app.storage.garbage import collect_garbage

    settings = get_settings()
    try:
        result = collect_garbage(
            settings, settings.gc_grace_seconds if grace is None else grace, dry_run
        )
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    verb = "would delete" if dry_run else "deleted"
    for obj in result.garbage:
        typer.echo(f"{verb} {obj.key} ({obj.size} bytes, {obj.modified:%Y-%m-%d %H:%M:%S})")
    freed = sum(o.size for o in result.garbage)
    typer.echo(
        f"{store_for(settings).location}: {verb} {len(result.garbage)} objects "
        f"({freed} bytes); kept {result.kept}"
    )


_SERVICE_COMMANDS = ("serve", "worker", "migrate", "gc")


def add_client_commands() -> None:
    """The client commands (app/client): they talk to a running server over HTTP."""
    from app.client.datasets import datasets_app
    from app.client.runs import runs_app, submit
    from app.client.serving import models_app, predict
    from app.client.sweeps import sweep, sweeps_app

    panel = "Client (talk to a running server)"
    cli.command(rich_help_panel=panel)(submit)
    cli.command(rich_help_panel=panel)(predict)
    cli.add_typer(runs_app, name="runs", rich_help_panel=panel)
    cli.add_typer(models_app, name="models", rich_help_panel=panel)
    cli.add_typer(datasets_app, name="datasets", rich_help_panel=panel)
    cli.command(rich_help_panel=panel)(sweep)
    cli.add_typer(sweeps_app, name="sweeps", rich_help_panel=panel)


def main() -> None:
    # The service's own commands start without the client's imports: httpx and rich were a
    # third of an API process's start-up (py-spy), for commands `serve` never runs.
    if sys.argv[1:2] not in ([c] for c in _SERVICE_COMMANDS):
        add_client_commands()
    cli()


if __name__ == "__main__":
    main()
