from fastapi.testclient import TestClient


def test_health_is_up(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


def test_datasets_lists_builtins(client: TestClient) -> None:
    names = {d["name"] for d in client.get("/v1/datasets").json()["items"]}
    assert {"digits", "mnist-5k", "mnist"} <= names
