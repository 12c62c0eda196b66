"""Crashes and restarts never lose, duplicate or strand a run."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import LiveService, load_example

pytestmark = pytest.mark.slow


def _kill_worker(svc: LiveService) -> None:
    (pid,) = svc.worker_pids()
    os.kill(pid, signal.SIGKILL)


def test_killed_worker_resumes_from_its_checkpoint(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1)
    run_id = svc.submit(load_example("digits-relu", epochs=8))["id"]
    svc.wait_for(run_id, {"running"}, min_epoch=3)
    _kill_worker(svc)

    done = svc.wait_for(run_id)
    assert done["status"] == "succeeded"
    assert done["attempts"] == 2
    assert svc.epochs(run_id) == list(range(1, 9))  # each epoch exactly once
    statuses = [e["data"]["status"] for e in _status_events(svc, run_id)]
    assert statuses.count("succeeded") == 1

    # The same batches from the checkpoint on, the same XLA-compiled step, however the steps
    # were grouped into calls: an uninterrupted run ends with exactly the same numbers.
    again = svc.wait_for(svc.submit(load_example("digits-relu", epochs=8))["id"])
    assert again["attempts"] == 1 and again["reproducibility"] == done["reproducibility"]
    assert {**again["metrics"], "seconds": 0} == {**done["metrics"], "seconds": 0}
    assert again["evaluation"] == done["evaluation"]


@BOTH_BACKENDS
def test_whole_service_killed_loses_nothing(live: Callable[..., LiveService], tmp_path) -> None:
    svc = live(workers=1)
    runs = [svc.submit(load_example("digits-relu", epochs=5))["id"] for _ in range(3)]
    svc.wait_for(runs[0], {"running"}, min_epoch=2)
    svc.stop(signal.SIGKILL)

    again = live(workers=1, data_dir=svc.data_dir)
    for run_id in runs:
        done = again.wait_for(run_id)
        assert done["status"] == "succeeded", done["failure_reason"]
        assert again.epochs(run_id) == [1, 2, 3, 4, 5]
    assert again.run(runs[0])["attempts"] == 2


def test_sigterm_requeues_and_the_next_start_resumes(live: Callable[..., LiveService]) -> None:
    grace = 10
    svc = live(workers=1, shutdown_grace_seconds=grace)
    run_id = svc.submit(load_example("digits-relu", epochs=8))["id"]
    svc.wait_for(run_id, {"running"}, min_epoch=2)
    svc.stop(signal.SIGTERM, timeout=grace + 10)  # the whole pool exits within its grace period

    again = live(workers=1, data_dir=svc.data_dir)
    assert again.run(run_id)["status"] in ("queued", "running", "succeeded")
    done = again.wait_for(run_id)
    # The SIGTERM handed the attempt back: only crashes count towards max_attempts.
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert again.epochs(run_id) == list(range(1, 9))


def test_run_fails_after_max_attempts(live: Callable[..., LiveService]) -> None:
    svc = live(workers=1, max_attempts=1)
    run_id = svc.submit(load_example("digits-relu", epochs=300))["id"]
    svc.wait_for(run_id, {"running"}, min_epoch=1)
    _kill_worker(svc)
    done = svc.wait_for(run_id, timeout=60)
    assert done["status"] == "failed"
    assert "max_attempts=1" in done["failure_reason"]


def _status_events(svc: LiveService, run_id: str) -> list[dict]:
    from tests.fixtures.live import read_events

    return [
        {"id": i, "data": d} for i, kind, d in read_events(svc.http, run_id) if kind == "status"
    ]
