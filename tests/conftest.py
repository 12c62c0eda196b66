"""Shared fixtures: a real SQLite file migrated with Alembic, and the app over real HTTP semantics."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db.migrations import upgrade
from app.main import create_app
from app.settings import Settings

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
