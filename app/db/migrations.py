"""Schema version checks and upgrades, done with Alembic so every backend follows one history.

Checking the version is on every API process's start-up path and every /readyz probe, so it
does without Alembic: importing Alembic (with Mako, Pygments and every SQLAlchemy dialect it
supports) cost ~0.55 s of a start-up that should take ~1 s. The head is read from the revision
files' ``revision``/``down_revision`` lines and the current revision from ``alembic_version``,
as Alembic itself does; tests/db/test_migrations.py checks both agree with Alembic's answers.
Upgrades still go through Alembic, imported only then.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from app.db.session import get_engine

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "alembic" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; alembic/env.py keeps it
_REVISION = re.compile(r"^revision(?:\s*:[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(.+)$", re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


@lru_cache(maxsize=1)
def _head() -> str | None:
    # The scripts ship with the code: read them once, not on every /readyz probe.
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            continue  # not a revision script
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))  # None, one, a tuple
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"alembic/versions has several heads: {sorted(heads)}")
    return heads.pop() if heads else None


def head_revision(url: str) -> str | None:
    return _head()


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(rows)) or None  # several rows: branches, never our head


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
    from alembic import command

    command.upgrade(alembic_config(url), "head")
