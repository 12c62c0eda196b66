"""The runs resource without training: listing, pagination, lookups, and dataset errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.fixtures.live import load_example
from tests.fixtures.runs import finished_run


def _submit(client: TestClient, **training: object) -> str:
    resp = client.post("/v1/runs", json=load_example("zero-vs-one", **training))
    assert resp.status_code == 202
    assert resp.headers["location"] == f"/v1/runs/{resp.json()['id']}"
    return resp.json()["id"]


def test_list_pages_newest_first_with_a_cursor(client: TestClient) -> None:
    ids = [_submit(client, epochs=e) for e in range(1, 6)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/runs", params=params).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_list_filters_by_status(client: TestClient) -> None:
    keep, cancel = _submit(client), _submit(client)
    assert client.post(f"/v1/runs/{cancel}/cancel").json()["status"] == "cancelled"
    assert [
        r["id"] for r in client.get("/v1/runs", params={"status": "queued"}).json()["items"]
    ] == [keep]
    assert [
        r["id"] for r in client.get("/v1/runs", params={"status": "cancelled"}).json()["items"]
    ] == [cancel]
    bad = client.get("/v1/runs", params={"status": "sleeping"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/status"


def test_bad_cursor_and_unknown_run_are_problems(client: TestClient) -> None:
    assert client.get("/v1/runs", params={"cursor": "zzz"}).status_code == 400
    for path in ("/v1/runs/nope", "/v1/runs/nope/metrics", "/v1/runs/nope/model"):
        resp = client.get(path)
        assert (
            resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"
        )
    assert client.post("/v1/runs/nope/cancel").status_code == 404
    assert client.delete("/v1/runs/nope").status_code == 404


def test_a_queued_run_shows_its_contract_fields(client: TestClient) -> None:
    run = client.get(f"/v1/runs/{_submit(client)}").json()
    assert run["status"] == "queued" and run["attempts"] == 0
    assert run["progress"] == {"epoch": 0, "epochs": 20}
    assert run["reproducibility"]["seed"] == 42 and len(run["reproducibility"]["spec_sha256"]) == 64
    assert run["artifact"] is None and run["evaluation"] is None
    assert client.get(f"/v1/runs/{run['id']}/model").status_code == 409
    assert client.delete(f"/v1/runs/{run['id']}").status_code == 409


def test_mnist_that_cannot_be_downloaded_is_a_503(settings: Settings) -> None:
    offline = settings.model_copy(update={"mnist_url": "http://127.0.0.1:9/mnist.npz"})
    spec = load_example("zero-vs-one")
    spec["dataset"]["name"] = "mnist"
    with TestClient(create_app(offline)) as client:
        resp = client.post("/v1/runs", json=spec)
        assert resp.status_code == 503
        assert "mnist-5k" in resp.json()["detail"]
        assert client.get("/v1/runs").json()["items"] == []


def test_datasets_describe_themselves(client: TestClient) -> None:
    digits = client.get("/v1/datasets/digits").json()
    assert (
        digits
        | {
            "name": "digits",
            "version": None,
            "shape": [8, 8],
            "classes": list(range(10)),
            "num_examples": 1797,
            "source": digits["source"],
        }
        == digits
    )
    assert sum(digits["class_counts"].values()) == 1797
    assert client.get("/v1/datasets/cifar").status_code == 404


def test_a_body_too_deep_to_parse_is_a_400_problem(client: TestClient) -> None:
    resp = client.post(
        "/v1/runs", content=b"[" * 100_000, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["errors"][0]["hint"]
    assert client.get("/v1/runs").json()["items"] == []


def test_head_on_the_model_url_answers_like_get_without_the_body(
    client: TestClient, settings: Settings
) -> None:
    run_id = finished_run(settings, artifact=b"not really a keras file")
    got = client.get(f"/v1/runs/{run_id}/model")
    head = client.head(f"/v1/runs/{run_id}/model")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content)) == "23"
    assert head.headers["content-disposition"] == got.headers["content-disposition"]
    queued = client.post("/v1/runs", json=load_example("zero-vs-one")).json()["id"]
    assert client.head(f"/v1/runs/{queued}/model").status_code == 409
