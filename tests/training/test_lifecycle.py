"""Cancel, delete, caps and scheduling, with real worker processes over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import LiveService, load_example, module_service

pytestmark = pytest.mark.slow

LONG = {"epochs": 300}  # far longer than any test waits: it ends only when stopped


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One SQLite service with one worker for the tests that need no fresh one (a service
    start costs ~17 s of CPU): each leaves no run active, so the next finds the worker idle
    and the queue empty. It exports ONNX only (test_one_worker_runs_jobs_in_order checks)."""
    with module_service(tmp_path_factory, "lifecycle", export_formats="onnx") as svc:
        yield svc


@pytest.fixture
def service(
    database_url: str, live: Callable[..., LiveService], one_worker: LiveService
) -> LiveService:
    """The shared SQLite service, or a fresh one on a test's PostgreSQL database."""
    return live(workers=1, export_formats="") if database_url else one_worker


@BOTH_BACKENDS
def test_cancel_queued_and_running_runs_then_delete(service: LiveService) -> None:
    svc = service
    running = svc.submit(load_example("digits-relu", **LONG))["id"]
    queued = svc.submit(load_example("zero-vs-one"))["id"]
    svc.wait_for(running, {"running"}, min_epoch=1)

    resp = svc.http.post(f"/v1/runs/{queued}/cancel")
    assert resp.status_code == 202 and resp.json()["status"] == "cancelled"

    # Not while it runs (it has 300 epochs to go). While it is cancelling is a race: a cancel
    # now takes effect within a step, often before a delete can arrive.
    assert svc.http.delete(f"/v1/runs/{running}").status_code == 409
    resp = svc.http.post(f"/v1/runs/{running}/cancel")
    assert resp.status_code == 202 and resp.json()["status"] in ("cancelling", "cancelled")
    stopped = svc.wait_for(running, timeout=30)
    assert stopped["status"] == "cancelled"
    assert stopped["progress"]["epoch"] < 300
    assert svc.http.post(f"/v1/runs/{running}/cancel").status_code == 409

    assert svc.http.get(f"/v1/runs/{running}/model").status_code == 409
    assert svc.http.delete(f"/v1/runs/{running}").status_code == 204
    assert svc.http.get(f"/v1/runs/{running}").status_code == 404
    assert not (svc.data_dir / "runs" / running).exists()
    assert svc.run(queued)["status"] == "cancelled"  # it never started


def test_one_worker_runs_jobs_in_order(one_worker: LiveService) -> None:
    svc = one_worker  # it exports only what it is asked to (ONNX)
    first, second = (svc.submit(load_example("zero-vs-one", epochs=3))["id"] for _ in range(2))
    a, b = svc.wait_for(first), svc.wait_for(second)
    assert a["status"] == b["status"] == "succeeded"
    assert a["finished_at"] <= b["started_at"]

    assert a["exports"]["onnx"]["status"] == "available"
    assert a["exports"]["tflite"]["status"] == "unavailable"
    assert a["exports"]["tflite"]["reason"].startswith("not requested")
    assert svc.http.get(f"/v1/runs/{first}/model?format=onnx").status_code == 200
    assert svc.http.get(f"/v1/runs/{first}/model?format=tflite").status_code == 409


@BOTH_BACKENDS
def test_two_workers_train_two_runs_at_once(live: Callable[..., LiveService]) -> None:
    svc = live(workers=2, export_formats="")
    first, second = (svc.submit(load_example("digits-relu", epochs=4))["id"] for _ in range(2))
    a, b = svc.wait_for(first), svc.wait_for(second)
    assert a["status"] == b["status"] == "succeeded"
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]


def test_wall_clock_cap_fails_the_run(one_worker: LiveService) -> None:
    svc = one_worker
    run = svc.submit(load_example("digits-relu", max_seconds=2, **LONG))["id"]
    done = svc.wait_for(run, timeout=60)
    assert done["status"] == "failed"
    assert "wall-clock cap of 2 s" in done["failure_reason"]


def test_diverging_loss_fails_with_a_hint(one_worker: LiveService) -> None:
    svc = one_worker
    spec = load_example("digits-regression", epochs=5)
    spec["training"]["optimizer"] = {"type": "sgd", "learning_rate": 10.0}
    created = svc.submit(spec)
    assert any(w["pointer"] == "/training/optimizer/learning_rate" for w in created["warnings"])
    done = svc.wait_for(created["id"], timeout=60)
    assert done["status"] == "failed"
    assert "lower the learning rate" in done["failure_reason"]
