"""`trainserve worker` with TRAINSERVE_QUEUE=celery: a Celery worker that trains runs.

The Celery main process never imports TensorFlow; each pool child (forked before any
TensorFlow import, so fork-safe) sets up TensorFlow and one ``Worker`` — the same class the
local pool runs, with its heartbeat, leases, reaper and redispatch — when it starts, and
keeps it warm between runs.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from app.dispatch.celery_app import TASK, broker_queue, make_celery
from app.settings import Settings

log = logging.getLogger("trainserve.worker")

# This pool child's worker (global on purpose: one per process, created at child start).
_CHILD: Any = None


def build_app(settings: Settings) -> Any:
    from celery.signals import worker_process_init, worker_process_shutdown, worker_shutting_down

    app = make_celery(settings.broker_url)

    def train(run_id: str) -> bool:
        assert _CHILD is not None, "the pool child was not initialised"
        # SIGTERM (sent by our main process at shutdown) during a run: stop after this
        # batch, checkpoint, hand the run back. Set here, not at child start: billiard
        # replaces the child's SIGTERM handler after worker_process_init with one raising
        # SystemExit, which would abandon the run mid-batch for the reaper to find, an
        # attempt used up. Idle, billiard's handler (exit at once) is the right one.
        previous = signal.signal(signal.SIGTERM, _CHILD.request_shutdown)
        try:
            return bool(_CHILD.run_one(run_id))
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _child_start(**_: Any) -> None:
        global _CHILD
        from app.training.worker import Worker, configure_tensorflow

        configure_tensorflow(settings.threads_per_worker, settings.onednn)
        importlib.import_module("app.training.trainer")  # warm: Keras before the first run

        _CHILD = Worker(settings)
        _CHILD.house_in_beat = True
        _CHILD.start()

    def _child_stop(**_: Any) -> None:
        if _CHILD is not None:
            _CHILD.stop()

    def _main_stopping(**_: Any) -> None:
        # Celery's warm shutdown waits for running tasks, which may take hours: ask our
        # children to give their runs back to the queue instead.
        for pid in _children(os.getpid()):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    app.task(name=TASK, ignore_result=True)(train)
    worker_process_init.connect(_child_start, weak=False)
    worker_process_shutdown.connect(_child_stop, weak=False)
    worker_shutting_down.connect(_main_stopping, weak=False)
    return app


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def run_worker(settings: Settings, concurrency: int = 1) -> None:
    """Block running a Celery worker on this process's queues (``-Q``)."""
    from app.logs import configure_logging

    configure_logging()
    app = build_app(settings)
    queues = ",".join(broker_queue(q) for q in settings.served_queues)
    log.info("celery worker on %s, queues %s", app.connection_for_write().as_uri(), queues)
    app.worker_main(
        [
            "worker",
            f"--hostname=trainserve-{os.getpid()}@{socket.gethostname()}",
            f"--queues={queues}",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ]
    )


def __getattr__(name: str) -> Any:
    # `celery -A app.training.celery_worker:app worker …` asks for ``app``: built on demand
    # from the environment, like `trainserve worker` does.
    if name == "app":
        from app.settings import get_settings

        return build_app(get_settings())
    raise AttributeError(name)
