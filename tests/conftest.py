"""Shared fixtures: a real SQLite file migrated with Alembic, and the app over real HTTP semantics."""

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
from tests.live import LiveService

ROOT = Path(__file__).resolve().parents[1]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    url = os.environ.get("TRAINSERVE_TEST_DATABASE_URL", "")
    return Settings(data_dir=data_dir, database_url=url, _env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path / "var")
    upgrade(s.resolved_database_url)
    return s


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Callable[..., LiveService]]:
    """Factory of real `trainserve serve` processes on this test's data dir; stopped afterwards."""
    started: list[LiveService] = []

    def start(workers: int = 1, data_dir: Path | None = None, **env: object) -> LiveService:
        svc = LiveService(data_dir or tmp_path / "var", os.environ.get("TRAINSERVE_TEST_DATABASE_URL", ""),
                          workers=workers, **env)
        started.append(svc)
        return svc.start()

    yield start
    for svc in started:
        if svc.proc is not None:
            svc.stop(signal.SIGKILL)
        assert "database is locked" not in svc.logs()
