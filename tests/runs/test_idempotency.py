"""Idempotency-Key: a retried POST never creates a second run."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.fixtures.databases import BOTH_BACKENDS
from tests.fixtures.live import LiveService, load_example

pytestmark = BOTH_BACKENDS


def test_twenty_concurrent_identical_posts_create_one_run(live: Callable[..., LiveService]) -> None:
    svc = live(workers=0)
    spec = load_example("zero-vs-one")

    def post(_: int) -> tuple[int, str]:
        resp = svc.http.post("/v1/runs", json=spec, headers={"Idempotency-Key": "retry-me"})
        return resp.status_code, resp.json()["id"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))
    assert len({run_id for _, run_id in answers}) == 1
    assert sorted(code for code, _ in answers).count(202) == 1  # the others are replays: 200
    assert len(svc.http.get("/v1/runs").json()["items"]) == 1


def test_same_key_with_another_body_is_a_conflict(client: TestClient) -> None:
    first = client.post(
        "/v1/runs", json=load_example("zero-vs-one"), headers={"Idempotency-Key": "k1"}
    )
    assert first.status_code == 202
    replay = client.post(
        "/v1/runs", json=load_example("zero-vs-one"), headers={"Idempotency-Key": "k1"}
    )
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert replay.headers["location"] == f"/v1/runs/{first.json()['id']}"

    other = client.post(
        "/v1/runs", json=load_example("zero-vs-one", epochs=3), headers={"Idempotency-Key": "k1"}
    )
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert first.json()["id"] in other.json()["detail"]
    assert len(client.get("/v1/runs").json()["items"]) == 1
