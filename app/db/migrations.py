"""Schema version checks and upgrades, done with Alembic so every backend follows one history."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db.session import get_engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


@lru_cache(maxsize=1)
def _head() -> str | None:
    # The scripts ship with the code: read them once, not on every /readyz probe.
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def head_revision(url: str) -> str | None:
    return _head()


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_problem(url: str) -> str | None:
    """Why the schema cannot be served, or None when it is at head."""
    try:
        current = current_revision(url)
    except Exception as exc:  # an unreachable database is a reason, not a crash
        return f"database unreachable: {exc.__class__.__name__}: {exc}"
    head = head_revision(url)
    if current != head:
        return (
            f"database schema is at {current or 'nothing'} but the code needs {head}; "
            "run `trainserve migrate` (make run does it)"
        )
    return None


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
