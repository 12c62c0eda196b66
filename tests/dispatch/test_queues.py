"""Named queues: offered by settings, chosen by training.queue, checked before storing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.enums import RunStatus
from app.main import create_app
from app.settings import Settings
from app.training import jobs
from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import load_example

pytestmark = BOTH_BACKENDS


def _spec(queue: str | None) -> dict[str, object]:
    spec = load_example("zero-vs-one", epochs=1)
    if queue is not None:
        spec["training"]["queue"] = queue
    return spec


def test_unknown_queue_is_a_422_before_anything_is_stored(settings: Settings) -> None:
    s = settings.model_copy(update={"queues": ["cpu", "gpu"]})
    with TestClient(create_app(s)) as client:
        resp = client.post("/v1/runs", json=_spec("tpu"))
        assert resp.status_code == 422
        assert resp.headers["content-type"] == "application/problem+json"
        (error,) = resp.json()["errors"]
        assert error["pointer"] == "/training/queue"
        assert "cpu, gpu" in error["hint"]
        assert client.get("/v1/runs").json()["items"] == []


def test_runs_wait_in_their_queue_and_workers_take_only_theirs(settings: Settings) -> None:
    s = settings.model_copy(update={"queues": ["cpu", "gpu"]})
    url = s.resolved_database_url
    with TestClient(create_app(s)) as client:
        gpu = client.post("/v1/runs", json=_spec("gpu")).json()
        cpu = client.post("/v1/runs", json=_spec(None)).json()
        assert (gpu["queue"], cpu["queue"]) == ("gpu", "cpu")  # the first queue is the default
        metrics = client.get("/metrics").text
        assert 'trainserve_queue_depth{queue="gpu"} 1.0' in metrics
        assert 'trainserve_queue_depth{queue="cpu"} 1.0' in metrics
    claim = jobs.claim_next(url, "cpu-box", 30, queues=["cpu"])
    assert claim is not None and claim.run_id == cpu["id"]
    assert jobs.claim_next(url, "cpu-box", 30, queues=["cpu"]) is None
    assert jobs.claim_next(url, "gpu-box", 30, queues=["gpu"]).run_id == gpu["id"]


def test_a_run_is_claimed_once_however_often_its_message_arrives(settings: Settings) -> None:
    url = settings.resolved_database_url
    with TestClient(create_app(settings)) as client:
        run_id = client.post("/v1/runs", json=_spec(None)).json()["id"]
    first = jobs.claim_run(url, run_id, "machine-a:1:x", 30)
    assert first is not None and first.attempts == 1
    assert jobs.claim_run(url, run_id, "machine-b:1:y", 30) is None  # running: a no-op
    jobs.finish(url, run_id, "machine-a:1:x", RunStatus.SUCCEEDED)
    assert jobs.claim_run(url, run_id, "machine-b:1:y", 30) is None  # finished: a no-op
