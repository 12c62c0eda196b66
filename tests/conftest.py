"""Shared fixtures: a real SQLite file migrated with Alembic, and the app over real HTTP semantics.

Helpers that tests import live in ``tests/fixtures/``; this file declares fixtures and how
`make test` spreads tests over its pytest-xdist processes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db.migrations import upgrade
from app.main import create_app
from app.settings import Settings
from tests.fixtures.databases import make_settings, postgres_database
from tests.fixtures.live import LiveService
from tests.fixtures.s3server import S3_ENV, S3Server

ROOT = Path(__file__).resolve().parents[1]

# Shared fixtures cheap enough to build once in each xdist process rather than tie their
# tests to one process (the S3 server starts in ~2 s; the celery suites use it too).
PER_PROCESS_FIXTURES = {"s3_server", "mnist_digits"}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module- or session-scoped fixture (a trained model, a live service,
    the browser) run in one xdist process (`--dist loadgroup`), so it is built once; modules
    with slow tests come first, so that no long test is left to start when the rest is done.
    Modules stay contiguous, so a plain serial run builds each module fixture once too."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    for item in items:
        home = _shared_fixture_home(item)
        if home is not None:
            item.add_marker(pytest.mark.xdist_group(home))
    items.sort(key=lambda item: item.path not in slow_modules)


def pytest_collection_finish(session: pytest.Session) -> None:
    """xdist marks a grouped test by appending "@group" to its node id; a pytest on which
    that silently does nothing (9.2, pytest-dev/pytest-xdist#1386) would build every shared
    fixture once per process and run browser tests side by side: refuse rather than crawl."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    grouped = [item for item in session.items if item.get_closest_marker("xdist_group")]
    if grouped and "@" not in grouped[0].nodeid:
        raise pytest.UsageError(
            "pytest-xdist cannot group tests on this pytest (see pyproject.toml's pin)"
        )


def _shared_fixture_home(item: pytest.Item) -> str | None:
    info = getattr(item, "_fixtureinfo", None)  # pytest's own record of the item's fixtures
    if info is None:
        return None
    homes = sorted(
        fixturedef.baseid
        for name, fixturedefs in info.name2fixturedefs.items()
        for fixturedef in fixturedefs
        if fixturedef.scope in ("module", "session")
        and fixturedef.baseid  # "" is pytest's and plugins' own (tmp_path_factory, ...)
        and name not in PER_PROCESS_FIXTURES
    )
    return homes[0] if homes else None


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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto S3 server for the session; tests isolate themselves with a bucket each."""
    for key, value in S3_ENV.items():
        os.environ.setdefault(key, value)
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """An ``s3://`` artifacts URL on a fresh bucket of the test S3 server."""
    return f"s3://{s3_server.new_bucket()}/artifacts"
