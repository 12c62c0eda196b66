"""Crashes and restarts never lose, duplicate or strand a run (the scenarios, in
tests/fixtures/durability.py, also run on Celery + PostgreSQL + S3 in tests/scale)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures import durability
from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.durability import LocalDeployment
from tests.fixtures.live import LiveService, load_example

pytestmark = pytest.mark.slow


def test_killed_worker_resumes_from_its_checkpoint(live: Callable[..., LiveService]) -> None:
    d = LocalDeployment(live)
    done = durability.killed_worker_resumes_from_its_checkpoint(d)

    # The same batches from the checkpoint on, the same XLA-compiled step, however the steps
    # were grouped into calls: an uninterrupted run ends with exactly the same numbers.
    again = d.api.wait_for(d.api.submit(load_example("digits-relu", epochs=8))["id"])
    assert again["attempts"] == 1 and again["reproducibility"] == done["reproducibility"]
    assert {**again["metrics"], "seconds": 0} == {**done["metrics"], "seconds": 0}
    assert again["evaluation"] == done["evaluation"]


@BOTH_BACKENDS
def test_whole_service_killed_loses_nothing(live: Callable[..., LiveService]) -> None:
    durability.whole_service_killed_loses_nothing(LocalDeployment(live))


def test_sigterm_requeues_and_the_next_start_resumes(live: Callable[..., LiveService]) -> None:
    durability.sigterm_hands_the_run_back_and_it_resumes(
        LocalDeployment(live, shutdown_grace_seconds=10)
    )


def test_run_fails_after_max_attempts(live: Callable[..., LiveService]) -> None:
    durability.run_fails_after_max_attempts(LocalDeployment(live, max_attempts=1))
