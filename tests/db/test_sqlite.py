"""SQLite is configured for a web process and worker processes sharing one file."""

from __future__ import annotations

from sqlalchemy import text

from app.db.session import get_engine
from app.settings import Settings


def test_every_connection_is_wal_with_busy_timeout_and_foreign_keys(settings: Settings) -> None:
    with get_engine(settings.resolved_database_url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
