"""Shared fixtures: a real SQLite file migrated with Alembic, and the app over real HTTP semantics."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.db.migrations import upgrade
from app.main import create_app
from app.settings import Settings
from tests.live import LiveService

ROOT = Path(__file__).resolve().parents[1]


PG_SERVER = os.environ.get("TRAINSERVE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

# For modules whose behaviour must hold on both backends: add to their pytestmark.
BOTH_BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
    indirect=True)


def make_settings(data_dir: Path, database_url: str = "", **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, _env_file=None,  # type: ignore[call-arg]
                    **overrides)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server, dropped afterwards."""
    name = f"trainserve_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """'' (SQLite in the data dir) unless a test is parametrized onto PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield ""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    s = make_settings(tmp_path / "var", database_url)
    upgrade(s.resolved_database_url)
    return s


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[Callable[..., LiveService]]:
    """Factory of real `trainserve serve` processes on this test's data dir; stopped afterwards."""
    started: list[LiveService] = []

    def start(workers: int = 1, data_dir: Path | None = None, **env: object) -> LiveService:
        svc = LiveService(data_dir or tmp_path / "var", database_url, workers=workers, **env)
        started.append(svc)
        return svc.start()

    yield start
    for svc in started:
        if svc.proc is not None:
            svc.stop(signal.SIGKILL)
        assert "database is locked" not in svc.logs()
