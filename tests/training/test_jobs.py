"""Job-state functions on a real database, without TensorFlow or processes."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db.base import utcnow
from app.db.session import read_session, write_session
from app.db.tables import Run
from app.db.tables import Worker as WorkerRow
from app.enums import RunStatus, StopReason
from app.runs.service import create_run
from app.runs.spec import RunSpec
from app.settings import Settings
from app.training import jobs, registry
from app.training.control import RunControl
from app.training.worker import Worker
from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import load_example

pytestmark = BOTH_BACKENDS


def _workers(url: str) -> set[str]:
    with read_session(url) as s:
        return set(s.scalars(select(WorkerRow.id)))


def test_a_worker_forgotten_by_mistake_comes_back_on_its_next_heartbeat(settings: Settings) -> None:
    url = settings.resolved_database_url
    registry.register_worker(url, "w1")
    registry.forget_workers(url, ["w1"])
    registry.worker_heartbeat(url, "w1", None)
    assert _workers(url) == {"w1"}


def test_only_silent_workers_with_dead_pids_count_as_dead(settings: Settings) -> None:
    url = settings.resolved_database_url
    registry.register_worker(url, "fresh")
    registry.register_worker(url, "silent")
    with write_session(url) as s:  # neither pid exists; only one stopped beating
        s.execute(update(WorkerRow).values(pid=2**22 + 1))
        s.execute(
            update(WorkerRow)
            .where(WorkerRow.id == "silent")
            .values(heartbeat_at=utcnow() - timedelta(seconds=60))
        )
    assert registry.dead_local_workers(url, silent_for=10) == ["silent"]


def test_a_lost_lease_fences_the_old_worker_out(settings: Settings) -> None:
    url = settings.resolved_database_url
    run, _ = create_run(settings, RunSpec.model_validate(load_example("zero-vs-one")))
    registry.register_worker(url, "old")
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


def test_a_worker_that_lost_its_lease_does_not_report_the_run_failed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    url = settings.resolved_database_url
    run, _ = create_run(settings, RunSpec.model_validate(load_example("zero-vs-one")))
    old = Worker(settings, worker_id="old")
    claim = jobs.claim_next(url, "old", lease_seconds=0.01)
    assert claim is not None
    time.sleep(0.05)
    jobs.reap_orphans(url, max_attempts=3)
    assert jobs.claim_next(url, "new", lease_seconds=30) is not None
    control = RunControl(deadline=time.time() + 60)
    control.stop(StopReason.LOST)  # what the old worker's lease thread finds out

    with caplog.at_level(logging.INFO, logger="trainserve.worker"):
        old._conclude(claim, control, control.reason, {}, cap=60)

    said = [(r.levelname, getattr(r, "status", None), r.getMessage()) for r in caplog.records]
    assert said == [("WARNING", None, f"run {run.id}: lease lost, leaving it to its new owner")]
    with read_session(url) as s:  # and the run goes on, untouched, in its new worker
        stored = s.get(Run, run.id)
        assert (stored.status, stored.worker_id) == (RunStatus.RUNNING, "new")


def test_graceful_requeues_do_not_use_up_attempts(settings: Settings) -> None:
    url = settings.resolved_database_url
    run, _ = create_run(settings, RunSpec.model_validate(load_example("zero-vs-one")))
    for restart in range(5):  # more rolling restarts than max_attempts
        claim = jobs.claim_next(url, f"w{restart}", lease_seconds=30)
        assert claim is not None and claim.attempts == 1
        assert jobs.requeue(url, run.id, f"w{restart}") == RunStatus.QUEUED
    # A crash still counts: the lease of the next attempt expires and the run is requeued.
    claim = jobs.claim_next(url, "crashes", lease_seconds=0.01)
    time.sleep(0.05)
    jobs.reap_orphans(url, max_attempts=1)
    with read_session(url) as s:
        stored = s.get(Run, run.id)
        assert (stored.status, stored.attempts) == (RunStatus.FAILED, 1)
        assert "gave up after max_attempts=1" in stored.failure_reason
