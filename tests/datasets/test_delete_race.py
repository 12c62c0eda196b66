"""Deleting a dataset while a run on it is being created: the run is queued on a dataset that
exists and the delete answers 409, or the delete wins and the run is refused; never a queued
run on a dataset that is gone.

The interleavings are forced, not hoped for: the spec check and the queueing are called as
the two steps they are, and on PostgreSQL a table lock held by the test stops one side at a
known statement while the other is seen (in pg_stat_activity) waiting for its row lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Connection

from app.datasets import service as datasets
from app.datasets.service import DatasetUnavailable
from app.db.session import read_session
from app.db.tables import Dataset, Run
from app.errors import Conflict
from app.runs.service import create_run, queue_checked, validate_spec
from app.settings import Settings
from tests.datasets.files import mnist_subset, npz_bytes
from tests.fixtures.databases import BOTH_BACKENDS

X, Y = mnist_subset((0, 1), per_class=4)
SPEC: dict[str, Any] = {
    "dataset": {"name": "race"},
    "model": {
        "layers": [{"type": "flatten"}, {"type": "dense", "units": 2, "activation": "softmax"}]
    },
    "training": {"loss": "sparse_categorical_crossentropy", "epochs": 1},
}


def _upload(client: TestClient) -> None:
    resp = client.post(
        "/v1/datasets", data={"name": "race"}, files={"file": ("d.npz", npz_bytes(x=X, y=Y))}
    )
    assert resp.status_code == 201, resp.text


def _counts(settings: Settings) -> tuple[int, int]:
    with read_session(settings.resolved_database_url) as s:
        return (
            s.scalar(select(func.count()).select_from(Dataset)) or 0,
            s.scalar(select(func.count()).select_from(Run)) or 0,
        )


@BOTH_BACKENDS
def test_a_delete_between_the_spec_check_and_the_queueing_refuses_the_run(
    client: TestClient, settings: Settings
) -> None:
    _upload(client)
    spec, warnings = validate_spec(settings, SPEC)  # the dataset exists at check time
    assert spec.dataset.version == 1
    assert client.delete("/v1/datasets/race").status_code == 204

    with pytest.raises(DatasetUnavailable) as refused:
        queue_checked(settings, spec, warnings)
    assert refused.value.status == 409
    assert refused.value.errors[0].pointer == "/dataset/name"
    assert _counts(settings) == (0, 0)  # no run row queued on nothing
    # Once the delete is committed, the spec check itself names the problem.
    assert client.post("/v1/runs", json=SPEC).status_code == 422


# --- PostgreSQL: both orders while the other side holds its row lock --------------------


@contextmanager
def _table_locked(url: str, table: str) -> Iterator[Connection]:
    """Holds ``table`` in ACCESS EXCLUSIVE mode until the block ends (then rolls back)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


def _wait_for_lock_waits(url: str, n: int, pending: list[Future[Any]]) -> list[str]:
    """The statements of ``n`` sessions waiting for a lock; polls, fails if a side finished."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 30
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                for f in pending:
                    assert not f.done(), f"finished instead of waiting: {f.result()!r}"
                waiting = list(
                    conn.exec_driver_sql(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' ORDER BY query_start"
                    ).scalars()
                )
                if len(waiting) >= n:
                    return waiting
                time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError(f"fewer than {n} sessions ever waited for a lock")


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_delete_waits_for_a_run_being_queued_then_refuses(
    client: TestClient, settings: Settings
) -> None:
    """The run has locked its dataset row and is about to insert itself when the delete starts."""
    _upload(client)
    url = settings.resolved_database_url
    with ThreadPoolExecutor(2) as pool, _table_locked(url, "runs"):
        creating = pool.submit(create_run, settings, SPEC)  # stops at INSERT INTO runs
        _wait_for_lock_waits(url, 1, [creating])
        deleting = pool.submit(datasets.delete, settings, "race")
        waits = _wait_for_lock_waits(url, 2, [creating, deleting])
        assert any("FOR UPDATE" in q and "datasets" in q for q in waits), waits
    run, created = creating.result(timeout=30)
    assert created
    with pytest.raises(Conflict) as refused:
        deleting.result(timeout=30)
    assert run.id in refused.value.detail
    assert _counts(settings) == (1, 1)


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_a_run_created_while_a_delete_commits_is_refused(
    client: TestClient, settings: Settings
) -> None:
    """The delete has locked the dataset rows (and is reading runs) when the run, whose spec
    check still saw the dataset, tries to hold it."""
    _upload(client)
    url = settings.resolved_database_url
    with ThreadPoolExecutor(2) as pool, _table_locked(url, "runs"):
        deleting = pool.submit(datasets.delete, settings, "race")  # stops at SELECT runs
        _wait_for_lock_waits(url, 1, [deleting])
        creating = pool.submit(create_run, settings, SPEC)
        waits = _wait_for_lock_waits(url, 2, [creating, deleting])
        assert any("FOR SHARE" in q and "datasets" in q for q in waits), waits
    assert deleting.result(timeout=30) is None
    with pytest.raises(DatasetUnavailable):
        creating.result(timeout=30)
    assert _counts(settings) == (0, 0)
