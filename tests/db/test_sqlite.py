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


def test_json_columns_read_back_what_the_standard_library_wrote(settings: Settings) -> None:
    """JSON columns are decoded with orjson for speed, falling back to the standard library
    for what orjson refuses but ``json.dumps`` writes (NaN, Infinity, integers past 64 bits)."""
    from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select

    table = Table(
        "json_probe", MetaData(), Column("id", Integer, primary_key=True), Column("v", JSON)
    )
    values = [{"a": [1, 2.5, "x"], "b": None}, {"loss": float("nan"), "big": 2**70}]
    engine = get_engine(settings.resolved_database_url)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"v": v} for v in values])
    with engine.connect() as conn:
        first, second = conn.execute(select(table.c.v).order_by(table.c.id)).scalars()
    assert first == values[0]
    assert second["big"] == 2**70 and second["loss"] != second["loss"]  # NaN
