"""One engine per process, SQLite tuned for a web process and worker processes sharing a file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN: we choose DEFERRED or IMMEDIATE per use.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(
                f"SQLite refused WAL mode (got {mode!r}); is the data dir on a network FS?"
            )
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # FULL: an accepted run must survive power loss, and our write rate is tiny.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so two writers never deadlock upgrading read locks
        # (that is where "database is locked" comes from despite busy_timeout).
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # each statement is its own transaction: see ModelLookup
        conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")


def _json_loads(text: str) -> Any:
    """JSON columns as SQLite hands them back: decoding them with the standard library was
    ~40 % of listing 100 runs (bench/README.md, list_runs.py). orjson gives the same values
    for valid JSON; it refuses what the standard library also writes (NaN, Infinity, huge
    integers), which the standard library still reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@lru_cache
def get_engine(url: str) -> Engine:
    """The process's engine for ``url`` (cached: engines own connection pools)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {
            "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            "json_deserializer": _json_loads,
        }
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


@lru_cache
def _sessionmakers(url: str) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    engine = get_engine(url)
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    return (
        sessionmaker(engine, expire_on_commit=False),
        sessionmaker(writer, expire_on_commit=False),
    )


def read_session(url: str) -> Session:
    return _sessionmakers(url)[0]()


@contextmanager
def write_session(url: str) -> Iterator[Session]:
    """A short write transaction: commits on success, rolls back on error."""
    with _sessionmakers(url)[1]() as session, session.begin():
        yield session


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"
