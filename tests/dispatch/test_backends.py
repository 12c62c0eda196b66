"""What `serve`, `trainserve worker` and /readyz ask of the dispatch backend, by backend."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.dispatch import dispatcher_for
from app.main import create_app
from app.settings import Settings

CELERY = {"queue": "celery", "broker_url": "redis://127.0.0.1:6379/11"}


@pytest.mark.parametrize(
    ("backend", "pool", "hint"),
    [({}, 3, "or TRAINSERVE_WORKERS >= 1"), (CELERY, 0, "(a Celery worker) on any machine")],
)
def test_the_backend_says_how_runs_reach_workers(
    settings: Settings, backend: dict[str, str], pool: int, hint: str
) -> None:
    s = settings.model_copy(update=backend)
    dispatcher = dispatcher_for(s)
    assert dispatcher.local_pool_size(3) == pool  # Celery runs go to `trainserve worker`s
    assert dispatcher.worker_entry.startswith("app.training.")
    with TestClient(create_app(s)) as client:
        checks = client.get("/readyz").json()["checks"]
    assert checks["workers"].endswith(f"start one with `trainserve worker` {hint}")
