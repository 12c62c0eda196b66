"""The `trainserve` command: run the service (serve, worker, migrate)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from app.client.models import models_app, predict
from app.client.runs import runs_app, submit
from app.settings import get_settings

cli = typer.Typer(help="Train Keras networks over HTTP and serve their predictions.",
                  no_args_is_help=True, add_completion=False)


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
    workers: Annotated[int | None, typer.Option(help="worker processes; default: TRAINSERVE_WORKERS")] = None,
) -> None:
    """Start the API and a supervised pool of training workers."""
    import uvicorn

    from app.logs import configure_logging
    from app.main import create_app
    from app.training.pool import WorkerPool

    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    configure_logging(background=True)
    app = create_app(settings)
    pool = WorkerPool(settings)
    pool.start()
    # uvicorn re-raises the signal that stopped it once it is done; a Python-level handler
    # turns that into a no-op so the `finally` below still drains the pool.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        # log_config=None: uvicorn's dictConfig would close our handlers (see app.logs).
        uvicorn.run(app, host=host or settings.host, port=port or settings.port,
                    log_level="warning", log_config=None, timeout_graceful_shutdown=5)
    finally:
        pool.stop()


@cli.command()
def worker() -> None:
    """Run one training worker in this process (for scaling out beside `serve --workers 0`)."""
    from app.training.worker import worker_main

    worker_main(get_settings().model_dump(mode="json"))


# Client commands (app/client): they talk to a running server over HTTP.
_CLIENT = "Client (talk to a running server)"
cli.command(rich_help_panel=_CLIENT)(submit)
cli.command(rich_help_panel=_CLIENT)(predict)
cli.add_typer(runs_app, name="runs", rich_help_panel=_CLIENT)
cli.add_typer(models_app, name="models", rich_help_panel=_CLIENT)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
