"""Logging: JSON lines for machines, plain text when a person watches a terminal."""

from __future__ import annotations

import logging
import queue
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

import orjson

_EXTRA_KEYS = ("run_id", "method", "path", "status", "duration_ms", "reason")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key in _EXTRA_KEYS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # rendered early by BatchedHandler
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class BatchedHandler(logging.Handler):
    """Queues records and writes them from a thread in batches, every ``interval`` seconds.

    An access-log line then costs a request a queue put instead of formatting plus a write
    system call, and a stderr pipe that stops draining (a stalled log collector) never
    blocks the event loop. Writing per record from a thread was slower: every line woke the
    thread and made it fight the event loop for the GIL.
    """

    def __init__(self, target: logging.StreamHandler[TextIO], interval: float = 0.05) -> None:
        super().__init__()
        self.target, self.interval = target, interval
        self._records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()
        # logging.shutdown() closes it at a normal exit, which writes what is queued.

    def emit(self, record: logging.LogRecord) -> None:
        if self._stopped.is_set():
            # Closed, e.g. by a logging.config call elsewhere: write directly, lose nothing.
            self.target.handle(record)
            return
        if record.exc_info:  # tracebacks hold frames alive: render them now, while valid
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self._records.put(record)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        # One write for the batch: the target's own emit flushes after every record, one
        # system call per access-log line (~25 µs of a small prediction's CPU over HTTP).
        lines = []
        while True:
            try:
                record = self._records.get_nowait()
            except queue.Empty:
                break
            if record.levelno < self.target.level or not self.target.filter(record):
                continue
            try:
                lines.append(self.target.format(record) + "\n")
            except Exception:
                self.target.handleError(record)
        if lines:
            with self.target.lock:  # type: ignore[union-attr]
                try:
                    self.target.stream.write("".join(lines))
                    self.target.stream.flush()
                except Exception:
                    self.target.handleError(record)

    def close(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._thread.join(timeout=5)
        super().close()


def configure_logging(level: int = logging.INFO, *, background: bool = False) -> None:
    """``background``: write from a thread (the API process); workers write directly, so a
    worker killed mid-run has already written everything it logged."""
    # Neither format writes a thread or process name; looking them up for every record was a
    # third of an access-log line's cost (16 -> 11 µs with its write, measured in process).
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger("trainserve")
    root.setLevel(level)
    root.propagate = False
    if not background:
        root.handlers[:] = [handler]
        return
    root.handlers[:] = [BatchedHandler(handler)]
