"""Job-state functions on a real database, without TensorFlow or processes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db.base import utcnow
from app.db.models import Run, Worker
from app.db.session import read_session, write_session
from app.runs.service import create_run
from app.runs.spec import RunSpec
from app.settings import Settings
from app.training import jobs
from tests.conftest import BOTH_BACKENDS
from tests.live import load_example

pytestmark = BOTH_BACKENDS


def _workers(url: str) -> set[str]:
    with read_session(url) as s:
        return set(s.scalars(select(Worker.id)))


def test_a_worker_forgotten_by_mistake_comes_back_on_its_next_heartbeat(settings: Settings) -> None:
    url = settings.resolved_database_url
    jobs.register_worker(url, "w1")
    jobs.forget_workers(url, ["w1"])
    jobs.worker_heartbeat(url, "w1", None)
    assert _workers(url) == {"w1"}


def test_only_silent_workers_with_dead_pids_count_as_dead(settings: Settings) -> None:
    url = settings.resolved_database_url
    jobs.register_worker(url, "fresh")
    jobs.register_worker(url, "silent")
    with write_session(url) as s:  # neither pid exists; only one stopped beating
        s.execute(update(Worker).values(pid=2**22 + 1))
        s.execute(update(Worker).where(Worker.id == "silent")
                  .values(heartbeat_at=utcnow() - timedelta(seconds=60)))
    assert jobs.dead_local_workers(url, silent_for=10) == ["silent"]


def test_a_lost_lease_fences_the_old_worker_out(settings: Settings) -> None:
    url = settings.resolved_database_url
    run, _ = create_run(settings, RunSpec.model_validate(load_example("zero-vs-one")))
    jobs.register_worker(url, "old")
    claim = jobs.claim_next(url, "old", lease_seconds=0.01)
    assert claim is not None and claim.attempts == 1
    time.sleep(0.05)
    jobs.reap_orphans(url, max_attempts=3)  # the lease has expired: back to the queue
    assert jobs.claim_next(url, "new", lease_seconds=30).run_id == run.id
    with pytest.raises(jobs.LeaseLost):
        jobs.record_epoch(url, run.id, "old", 1, {"loss": 1.0}, 0.1, 0.0, checkpoint_epoch=1)
    with read_session(url) as s:
        stored = s.get(Run, run.id)
        assert (stored.worker_id, stored.attempts, stored.epoch) == ("new", 2, 0)
