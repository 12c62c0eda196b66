"""Which trained model a prediction request means, loaded through the process's model cache."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import PoolProxiedConnection, bindparam, select

from app.db.session import get_engine, read_session
from app.db.tables import ModelName, Run
from app.enums import RunStatus
from app.errors import Conflict, NotFound, Unavailable
from app.inference.cache import ModelCache
from app.inference.predictor import Predictor, verify_checksum
from app.runs.ids import is_model_name, is_run_id
from app.runtimes import FORMAT_OF_RUNTIME, RUNTIME_OF_FORMAT, ModelFormat, runtime
from app.settings import Settings
from app.storage.runs import served_file
from app.training.artifacts import FORMAT_FILES


@dataclass(frozen=True)
class Target:
    run_id: str
    name: str
    artifact_sha256: str


_COLUMNS = (Run.id, Run.status, Run.artifact_sha256, Run.name)
_Row = tuple[str, str, str | None, str]  # id, status, artifact sha256, run name
_QUERIES = {
    "run": select(*_COLUMNS).where(Run.id == bindparam("ref")),
    "name": select(*_COLUMNS)
    .join(ModelName, ModelName.run_id == Run.id)
    .where(ModelName.name == bindparam("ref")),
}


class ModelLookup:
    """Resolves run ids and model names with one indexed query per request.

    Every request asks the database, so a name repointed or a run deleted by any API process
    takes effect on the next request here too. To make that affordable the two queries are
    compiled once for the database's driver and run on one driver connection held for the
    purpose, in autocommit mode so each query sees the latest commit.

    On SQLite the answers are also kept until the database changes: ``PRAGMA data_version``
    moves whenever another connection (any process's) commits, and asking it cost ~20 µs
    less than the query in a serving process (where the query was ~6 % of a single-image
    prediction's CPU over HTTP). PostgreSQL has no such counter, and its lookups run in a
    worker thread anyway, so there every lookup is a query.
    """

    MAX_KEPT = 1024  # answers kept between two changes of the database

    def __init__(self, database_url: str) -> None:
        self._engine = get_engine(database_url)
        dialect = self._engine.dialect
        self._sql = {kind: str(q.compile(dialect=dialect)) for kind, q in _QUERIES.items()}
        self._positional = dialect.positional
        self._driver_error: type[Exception] = dialect.loaded_dbapi.Error
        self._lock = threading.Lock()  # a driver connection is not safe to share across threads
        self._conn: PoolProxiedConnection | None = None
        self._version_sql = "PRAGMA data_version" if dialect.name == "sqlite" else None
        self._version: Any = None
        self._kept: dict[tuple[str, str], _Row | None] = {}

    def by_run(self, run_id: str) -> Target:
        row = self._one("run", run_id) if is_run_id(run_id) else None
        if row is None:
            raise NotFound(f"No run with id {run_id!r}.")
        return _servable(row, row[3])

    def by_name(self, name: str) -> Target:
        row = self._one("name", name) if is_model_name(name) else None
        if row is None:
            raise NotFound(f"No model named {name!r}; PUT /v1/models/{name} with a run_id first.")
        return _servable(row, name)

    def by_name_or_run(self, ref: str) -> Target:
        """Open Inference Protocol model names may be either."""
        try:
            return self.by_name(ref)
        except NotFound:
            try:
                return self.by_run(ref)
            except NotFound:
                raise NotFound(f"No model named {ref!r} and no run with that id.") from None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _one(self, kind: str, ref: str) -> _Row | None:
        with self._lock:
            for attempt in (1, 2):  # a connection dropped by a database restart is retried once
                try:
                    return self._fresh(kind, ref)
                except self._driver_error as exc:
                    self._drop()
                    if attempt == 2:
                        raise Unavailable(
                            "The database cannot be reached; try again shortly."
                        ) from exc
        raise AssertionError("unreachable")

    def _fresh(self, kind: str, ref: str) -> _Row | None:
        cursor = self._connection().cursor()
        try:
            if self._version_sql is not None:
                cursor.execute(self._version_sql)
                (version,) = cursor.fetchone() or (None,)
                if version != self._version or len(self._kept) >= self.MAX_KEPT:
                    self._kept.clear()
                    self._version = version
                elif (kind, ref) in self._kept:
                    return self._kept[kind, ref]
            cursor.execute(self._sql[kind], (ref,) if self._positional else {"ref": ref})
            row: _Row | None = cursor.fetchone()
        finally:
            cursor.close()
        if self._version_sql is not None:
            self._kept[kind, ref] = row
        return row

    def _connection(self) -> PoolProxiedConnection:
        if self._conn is None:
            conn = self._engine.raw_connection()
            if self._engine.dialect.name == "postgresql":
                conn.driver_connection.autocommit = True  # type: ignore[union-attr]
            # SQLite connections are already in autocommit mode (see app.db.session).
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        # Discarded, never returned to the pool: other users must not get an autocommit one.
        self._kept.clear()
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None


def _servable(row: _Row, name: str) -> Target:
    run_id, status, sha256, _ = row
    if status != RunStatus.SUCCEEDED:
        raise Conflict(f"Run {run_id} is {status}; only succeeded runs can predict.")
    if not sha256:  # a succeeded run always stored one: only a damaged database gets here
        raise Conflict(f"Run {run_id} has no stored model to predict with.")
    return Target(run_id, name, sha256)


def cached_predictor(cache: ModelCache, settings: Settings, target: Target) -> Predictor:
    """The cached predictor; keyed by artifact hash so a changed file is never served stale."""

    def load() -> Predictor:
        with read_session(settings.resolved_database_url) as session:
            run = session.get(Run, target.run_id)
            if run is None:
                raise NotFound(f"No run with id {target.run_id!r}.")
            spec, exports = run.spec, run.exports or {}
        fmt, sha256 = serving_file(settings, exports, target.artifact_sha256)
        if fmt != "keras":
            # An export is only as good as the .keras file it was made from and checked
            # against: a run whose .keras file changed is refused whatever format serves it.
            keras_file = served_file(
                settings, target.run_id, FORMAT_FILES["keras"], target.artifact_sha256
            )
            verify_checksum(keras_file, target.artifact_sha256, target.run_id)
        path = served_file(settings, target.run_id, FORMAT_FILES[fmt], sha256)
        return Predictor.load(
            path, sha256, spec, target.run_id, target.name, runtime(RUNTIME_OF_FORMAT[fmt])
        )

    return cache.get((target.run_id, target.artifact_sha256), load)


def serving_file(
    settings: Settings, exports: dict[str, Any], keras_sha256: str
) -> tuple[ModelFormat, str]:
    """(format, sha256) of the file to serve a run from: the configured runtime's export,
    else the run's other export, else the Keras file (runs without a usable export)."""
    preferred = FORMAT_OF_RUNTIME[settings.serving_runtime]
    if preferred == "keras":
        return "keras", keras_sha256
    others: tuple[ModelFormat, ...] = ("onnx", "tflite")
    for fmt in (preferred, *(f for f in others if f != preferred)):
        export = exports.get(fmt) or {}
        if export.get("status") == "available":
            return fmt, str(export["sha256"])
    return "keras", keras_sha256
