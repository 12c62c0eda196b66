"""Alembic owns the schema on both backends; the app will not serve an out-of-date one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from app.db.migrations import alembic_config, current_revision, head_revision, upgrade
from app.db.session import get_engine
from app.main import SchemaOutOfDate, create_app
from app.settings import Settings
from tests.fixtures.databases import BOTH_BACKENDS, make_settings

pytestmark = BOTH_BACKENDS


def test_upgrade_downgrade_upgrade_round_trip(settings: Settings) -> None:
    url = settings.resolved_database_url
    assert current_revision(url) == head_revision(url)
    command.downgrade(alembic_config(url), "base")
    assert "runs" not in inspect(get_engine(url)).get_table_names()
    upgrade(url)
    assert {"runs", "epoch_metrics", "run_events", "workers", "model_names"} <= set(
        inspect(get_engine(url)).get_table_names()
    )


def test_migrate_command_brings_a_new_data_dir_to_head(tmp_path: Path, database_url: str) -> None:
    s = make_settings(tmp_path / "var", database_url)
    env = {
        **os.environ,
        "TRAINSERVE_DATA_DIR": str(s.data_dir),
        "TRAINSERVE_DATABASE_URL": database_url,
    }
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, check=True)
    url = s.resolved_database_url
    assert current_revision(url) == head_revision(url)


def test_app_refuses_to_start_on_an_old_schema(tmp_path: Path, database_url: str) -> None:
    s = make_settings(tmp_path / "var", database_url)
    command.upgrade(alembic_config(s.resolved_database_url), "0001")
    with pytest.raises(SchemaOutOfDate, match="trainserve migrate"), TestClient(create_app(s)):
        pass
    # The check reads the version without Alembic (app/db/migrations.py): same answers.
    url = s.resolved_database_url
    with get_engine(url).connect() as conn:
        assert current_revision(url) == MigrationContext.configure(conn).get_current_revision()
    assert head_revision(url) == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_readyz_names_the_missing_worker(client: TestClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert "worker" in resp.json()["detail"]


def test_the_filtered_run_list_reads_its_rows_in_order_from_an_index(settings: Settings) -> None:
    url = settings.resolved_database_url
    indexes = {i["name"]: i["column_names"] for i in inspect(get_engine(url)).get_indexes("runs")}
    assert indexes["ix_runs_status_id"] == ["status", "id"]
    assert "ix_runs_status_created" not in indexes
    if url.startswith("sqlite"):  # no sorting of every matching row (bench/list_runs.py)
        with get_engine(url).connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE status = 'succeeded' "
                "ORDER BY id DESC LIMIT 101"
            ).all()
        steps = " | ".join(str(row[-1]) for row in plan)
        assert "ix_runs_status_id" in steps and "TEMP B-TREE" not in steps, steps
