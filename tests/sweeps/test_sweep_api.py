"""Sweeps without training: validation of every trial before anything is stored, the trials
queued as ordinary runs, cancel, delete and model names."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.sweeps.specs import cnn_base, grid_sweep


def _counts(client: TestClient) -> tuple[int, int]:
    return len(client.get("/v1/sweeps").json()["items"]), len(
        client.get("/v1/runs").json()["items"]
    )


def test_a_sweep_with_many_mistakes_is_one_422_and_stores_nothing(client: TestClient) -> None:
    base = cnn_base()
    base["training"]["epochs"] = 100_000  # over the service's cap
    body = {
        "name": "bad",
        "base": base,
        "space": {
            "/model/layers/0/kernel_size": {"values": [3, 9]},  # 9 > the 8x8 image
            "/model/layers/0/activation": {"choices": ["relu", "swish"]},  # unknown activation
            "/model/layers/7/units": {"values": [8]},  # no layer 7
            "training/epochs": {"values": [1]},  # not a pointer
            "/training/optimizer/learning_rate": {"low": 0.1, "high": 0.01, "log": True},
            "/training/batch_size": {"low": 0, "high": 64, "log": True},
            "/model/layers/0/filters": {"values": []},
            "/training/seed": {"values": [1], "low": 1, "high": 2},
        },
        "method": "bayesian",
        "max_runs": 10_000,
        "parallel": 99,
        "objective": {"metric": "f1", "direction": "up"},
        "model_name": "no spaces allowed",
    }
    resp = client.post("/v1/sweeps", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    pointers = {e["pointer"] for e in problem["errors"]}
    expected = {
        "/base/training/epochs",
        "/space/~1model~1layers~10~1kernel_size/values/1",
        "/space/~1model~1layers~10~1activation/choices/1",
        "/space/~1model~1layers~17~1units",
        "/space/training~1epochs",
        "/space/~1training~1optimizer~1learning_rate/high",
        "/space/~1training~1batch_size/low",
        "/space/~1model~1layers~10~1filters/values",
        "/space/~1training~1seed",
        "/method",
        "/max_runs",
        "/parallel",
        "/objective/metric",
        "/model_name",
    }
    # The base is invalid, so the trials are not checked against it yet: check them apart.
    assert (
        expected
        - {
            "/space/~1model~1layers~10~1kernel_size/values/1",
            "/space/~1model~1layers~10~1activation/choices/1",
            "/space/~1model~1layers~17~1units",
        }
        <= pointers
    ), problem["errors"]
    assert all(e["hint"] for e in problem["errors"])
    assert _counts(client) == (0, 0)

    body["base"]["training"]["epochs"] = 2
    resp = client.post("/v1/sweeps", json=body)
    assert resp.status_code == 422
    pointers = {e["pointer"] for e in resp.json()["errors"]}
    assert expected - {"/base/training/epochs"} <= pointers, resp.json()["errors"]
    assert len(pointers) >= 10
    kernel = next(e for e in resp.json()["errors"] if e["pointer"].endswith("kernel_size/values/1"))
    assert "larger than its 8x8 input" in kernel["message"]
    assert _counts(client) == (0, 0)


def test_objective_must_be_recorded_by_the_base(client: TestClient) -> None:
    body = grid_sweep(pruning=True)
    body["base"]["training"]["validation_split"] = 0
    body["base"]["training"]["metrics"] = []
    errors = client.post("/v1/sweeps", json=body).json()["errors"]
    messages = [(e["pointer"], e["message"]) for e in errors]
    assert any(p == "/pruning" for p, _ in messages)
    assert any(p == "/objective/metric" and "validation split" in m for p, m in messages)
    assert any(p == "/objective/metric" and "record accuracy" in m for p, m in messages)
    body["objective"] = {"metric": "test_accuracy"}
    errors = client.post("/v1/sweeps", json=body).json()["errors"]
    assert any("does not record accuracy" in e["message"] for e in errors)


def test_grid_larger_than_max_runs_and_range_in_grid(client: TestClient) -> None:
    body = grid_sweep(max_runs=4)
    body["space"]["/training/batch_size"] = {"low": 16, "high": 64}
    errors = client.post("/v1/sweeps", json=body).json()["errors"]
    assert {e["pointer"] for e in errors} >= {"/space/~1training~1batch_size"}
    del body["space"]["/training/batch_size"]
    errors = client.post("/v1/sweeps", json=body).json()["errors"]
    assert errors[0]["pointer"] == "/max_runs" and "6 combinations" in errors[0]["message"]


def test_combinations_are_checked_not_only_single_values(client: TestClient) -> None:
    body = grid_sweep()
    body["base"] = cnn_base()
    body["space"] = {
        "/model/layers/0/kernel_size": {"values": [3, 5]},
        "/model/layers/0/strides": {"values": [1, 4]},
        "/model/layers/0/padding": {"values": ["valid"]},
    }
    body["base"]["model"]["layers"].insert(1, {"type": "max_pool2d", "pool_size": 2})
    resp = client.post("/v1/sweeps", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["pointer"] == "/space"  # kernel 5, stride 4, then a pool
    assert _counts(client) == (0, 0)


def test_trials_are_runs_queued_up_to_parallel(client: TestClient) -> None:
    resp = client.post("/v1/sweeps", json=grid_sweep(model_name="digits-best"))
    assert resp.status_code == 202, resp.text
    sweep = resp.json()
    assert resp.headers["location"] == f"/v1/sweeps/{sweep['id']}"
    assert sweep["status"] == "running" and sweep["spec"]["max_runs"] == 6
    assert [t["params"] for t in sweep["trials"]] == [
        {"/model/layers/0/units": 8, "/training/optimizer/learning_rate": 0.00001},
        {"/model/layers/0/units": 8, "/training/optimizer/learning_rate": 0.003},
    ]
    run = client.get(f"/v1/runs/{sweep['trials'][0]['run_id']}").json()
    assert run["sweep_id"] == sweep["id"] and run["status"] == "queued"
    # One layer numbering, the user's: the implicit flatten is shown apart, not at index 0.
    assert run["spec"]["model"]["layers"][0]["units"] == 8
    assert run["spec"]["training"]["optimizer"]["learning_rate"] == 0.00001

    put = client.put("/v1/models/digits-best", json={"sweep_id": sweep["id"]})
    assert put.status_code == 409  # no trial has succeeded yet
    both = client.put("/v1/models/x", json={"sweep_id": sweep["id"], "run_id": run["id"]})
    assert both.status_code == 422

    assert client.delete(f"/v1/sweeps/{sweep['id']}").status_code == 409
    cancelled = client.post(f"/v1/sweeps/{sweep['id']}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert {t["status"] for t in cancelled.json()["trials"]} == {"cancelled"}
    assert client.post(f"/v1/sweeps/{sweep['id']}/cancel").status_code == 409
    assert client.delete(f"/v1/sweeps/{sweep['id']}").status_code == 204
    assert client.get(f"/v1/sweeps/{sweep['id']}").status_code == 404
    assert client.get(f"/v1/runs/{run['id']}").status_code == 404
    assert _counts(client) == (0, 0)


def test_unknown_sweep_is_404(client: TestClient) -> None:
    assert client.get("/v1/sweeps/nope").status_code == 404
    assert client.post("/v1/sweeps/0123456789abcdef012345/cancel").status_code == 404


def test_sweep_fields_are_strict_and_misspellings_get_a_hint(client: TestClient) -> None:
    body = grid_sweep()
    body |= {"seed": False, "pruning": 1, "parallel": 2.0, "max_run": 4, "method": "gird"}
    body["space"]["/model/layers/0/units"] = {"valuess": [8, 16]}
    body["objective"] = {"metric": "val_accuracy", "direction": "max", "metrik": "loss"}
    resp = client.post("/v1/sweeps", json=body)
    assert resp.status_code == 422, resp.text
    hints = {e["pointer"]: e["hint"] for e in resp.json()["errors"]}
    assert {"/seed", "/pruning", "/parallel"} <= set(hints)  # false is no seed, 1 no true
    assert hints["/max_run"].startswith('did you mean "max_runs"?')
    assert hints["/space/~1model~1layers~10~1units/valuess"].startswith('did you mean "values"?')
    assert hints["/objective/metrik"].startswith('did you mean "metric"?')
    assert _counts(client) == (0, 0)

    body = grid_sweep(method="gird")
    body["base"]["training"]["epochz"] = 2
    errors = {
        e["pointer"]: e["hint"] for e in client.post("/v1/sweeps", json=body).json()["errors"]
    }
    assert errors["/method"].startswith('did you mean "grid"?')
    assert errors["/base/training/epochz"].startswith('did you mean "epochs"?')
    assert client.post("/v1/sweeps", json=[body]).status_code == 422
