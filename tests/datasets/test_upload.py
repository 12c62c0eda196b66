"""Uploads in every format over HTTP: what comes back, versions, listing, preview, delete."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from tests.datasets.files import (
    csv_bytes,
    csv_with_targets,
    folders_zip,
    idx_bytes,
    mnist_subset,
    npz_bytes,
    yes_no_columns,
)
from tests.fixtures.databases import BOTH_BACKENDS

X, Y = mnist_subset((0, 1, 2), per_class=6)
COUNTS = {"0": 6, "1": 6, "2": 6}


def upload(client: TestClient, name: str, files: dict[str, tuple[str, bytes]], **fields: str):
    query = "?version=new" if fields.pop("new", None) else ""
    return client.post(f"/v1/datasets{query}", data={"name": name, **fields}, files=files)


@pytest.mark.parametrize(
    ("files", "fmt"),
    [
        ({"file": ("d.npz", npz_bytes(x=X, y=Y))}, "npz"),
        ({"file": ("train.csv", csv_bytes(X, Y))}, "csv"),
        ({"images": ("i.gz", idx_bytes(X, gz=True)), "labels": ("l", idx_bytes(Y))}, "idx"),
    ],
    ids=["npz", "csv", "idx"],
)
def test_each_format_is_detected_and_stored_identically(
    client: TestClient, files: dict[str, tuple[str, bytes]], fmt: str
) -> None:
    resp = upload(client, "mine", files)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert resp.headers["location"] == "/v1/datasets/mine@1"
    assert body["format"] == fmt and body["source"] == "upload" and body["version"] == 1
    assert body["shape"] == [28, 28] and body["classes"] == [0, 1, 2]
    assert body["num_examples"] == 18 and body["class_counts"] == COUNTS
    assert body["dtype"] == "uint8" and len(body["sha256"]) == 64
    # Three formats, same digits: the same arrays, so the same digest.
    reference = upload(client, "reference", {"file": ("d.npz", npz_bytes(x=X, y=Y))}).json()
    assert body["sha256"] == reference["sha256"]


def test_zip_of_photo_folders_goes_through_the_mnist_recipe(client: TestClient) -> None:
    resp = upload(client, "photos", {"file": ("digits.zip", folders_zip(X, Y, root="digits/"))})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["format"] == "zip" and body["shape"] == [28, 28]
    assert body["class_counts"] == COUNTS


def test_zip_with_preprocess_none_keeps_pixels_at_a_declared_size(client: TestClient) -> None:
    resp = upload(
        client,
        "raw",
        {"file": ("d.zip", folders_zip(X, Y, side=40))},
        preprocess="none",
        size="20x20",
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["shape"] == [20, 20]


@BOTH_BACKENDS
def test_versions_are_immutable_and_numbered(client: TestClient) -> None:
    first = upload(client, "ver", {"file": ("d.npz", npz_bytes(x=X, y=Y))})
    assert first.status_code == 201
    again = upload(client, "ver", {"file": ("d.npz", npz_bytes(x=X[:12], y=Y[:12]))})
    assert again.status_code == 409
    assert "?version=new" in again.json()["detail"]
    second = upload(client, "ver", {"file": ("d.npz", npz_bytes(x=X[:12], y=Y[:12]))}, new="1")
    assert second.status_code == 201 and second.json()["version"] == 2

    latest = client.get("/v1/datasets/ver").json()
    assert latest["version"] == 2 and latest["num_examples"] == 12 and latest["versions"] == [1, 2]
    assert client.get("/v1/datasets/ver@1").json()["num_examples"] == 18
    assert client.get("/v1/datasets/ver@3").status_code == 404

    listed = {d["name"]: d for d in client.get("/v1/datasets").json()["items"]}
    assert {"digits", "mnist-5k", "mnist", "ver"} <= set(listed)
    assert listed["ver"]["version"] == 2 and listed["digits"]["version"] is None


def test_preview_is_a_png_grid_per_class(client: TestClient) -> None:
    upload(client, "pv", {"file": ("d.npz", npz_bytes(x=X, y=Y))})
    for name in ("pv", "pv@1", "digits"):
        resp = client.get(f"/v1/datasets/{name}/preview.png")
        assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
        assert resp.content[:4] == b"\x89PNG", (name, resp.content[:300])
        image = Image.open(io.BytesIO(resp.content))
        assert image.height >= 3 * 28 and image.width > 8 * 28
    assert client.get("/v1/datasets/nope/preview.png").status_code == 404


def test_builtins_show_class_counts_and_cannot_be_replaced_or_deleted(client: TestClient) -> None:
    digits = client.get("/v1/datasets/digits").json()
    assert sum(digits["class_counts"].values()) == digits["num_examples"] == 1797
    assert upload(client, "digits", {"file": ("d.npz", npz_bytes(x=X, y=Y))}).status_code == 409
    assert client.delete("/v1/datasets/digits").status_code == 409


@BOTH_BACKENDS
def test_delete_removes_rows_and_files(client: TestClient, settings: Settings) -> None:
    upload(client, "gone", {"file": ("d.npz", npz_bytes(x=X, y=Y))})
    upload(client, "gone", {"file": ("d.npz", npz_bytes(x=X, y=Y))}, new="1")
    assert client.delete("/v1/datasets/gone@1").status_code == 204
    assert client.get("/v1/datasets/gone").json()["versions"] == [2]
    assert client.delete("/v1/datasets/gone").status_code == 204
    assert client.get("/v1/datasets/gone").status_code == 404
    assert client.delete("/v1/datasets/gone").status_code == 404
    assert not list((settings.data_dir / "datasets" / "uploads").rglob("*.npz"))


@BOTH_BACKENDS
def test_spec_validation_knows_an_uploads_shape_and_classes(client: TestClient) -> None:
    small = np.zeros((12, 10, 12), dtype=np.uint8)
    small[:, 2:8, 3:9] = 200
    labels = np.array([3, 5] * 6)
    upload(client, "tiny", {"file": ("d.npz", npz_bytes(x=small, y=labels))})
    spec = {
        "dataset": {"name": "tiny@1", "classes": [3, 4]},
        "model": {
            "layers": [
                {"type": "conv2d", "filters": 2, "kernel_size": 11},
                {"type": "flatten"},
                {"type": "dense", "units": 2, "activation": "softmax"},
            ]
        },
        "training": {"loss": "sparse_categorical_crossentropy", "epochs": 1},
    }
    problems = client.post("/v1/runs", json=spec).json()["errors"]
    pointers = {p["pointer"] for p in problems}
    assert {"/dataset/classes/1", "/model/layers/0/kernel_size"} <= pointers
    assert any("10x12" in p["message"] for p in problems)

    spec["dataset"] = {"name": "tiny@7"}
    problem = client.post("/v1/runs", json=spec).json()["errors"][0]
    assert problem["pointer"] == "/dataset/name" and "no version 7" in problem["message"]

    spec["dataset"] = {"name": "tiny"}
    spec["model"]["layers"][0]["kernel_size"] = 3
    run = client.post("/v1/runs", json=spec)
    assert run.status_code == 202, run.text
    assert (
        run.json()["spec"]["dataset"] | {"name": "tiny", "version": 1}
        == run.json()["spec"]["dataset"]
    )
    assert run.json()["spec"]["model"]["input_shape"] == [10, 12]

    # A queued run holds its dataset: deleting it now would break the run.
    blocked = client.delete("/v1/datasets/tiny")
    assert blocked.status_code == 409 and run.json()["id"] in blocked.json()["detail"]
    client.post(f"/v1/runs/{run.json()['id']}/cancel")
    assert client.delete("/v1/datasets/tiny").status_code == 204


def test_csv_yes_no_columns_and_values_are_their_own_targets(client: TestClient) -> None:
    """What a multi-label or regression CSV upload shows, and how specs on it are checked."""
    cols = yes_no_columns(Y)
    names = list(cols)
    resp = upload(
        client,
        "yes-no",
        {"file": ("m.csv", csv_with_targets(X, cols))},
        target="multilabel",
        label_columns=",".join(names),
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["target"], body["label_names"], body["classes"]) == ("multilabel", names, [])
    assert body["label_counts"] == {n: int(v.sum()) for n, v in cols.items()}
    assert client.get("/v1/datasets/yes-no/preview.png").content.startswith(b"\x89PNG")

    spec = {
        "dataset": {"name": "yes-no", "target": "label", "classes": [0, 1]},
        "model": {"layers": [{"type": "dense", "units": 2, "activation": "sigmoid"}]},
        "training": {"loss": "binary_crossentropy", "epochs": 1},
    }
    errors = {e["pointer"]: e for e in client.post("/v1/runs", json=spec).json()["errors"]}
    assert {"/dataset/target", "/dataset/classes"} <= set(errors)
    spec["dataset"] = {"name": "yes-no"}
    units = client.post("/v1/runs", json=spec).json()["errors"][0]
    assert units["pointer"] == "/model/layers/0/units" and "is_even, big, loop" in units["message"]
    spec["model"]["layers"][0]["units"] = 3
    run = client.post("/v1/runs", json=spec)
    assert run.status_code == 202, run.text
    assert (
        run.json()["spec"]["dataset"] | {"target": "multilabel", "label_names": names}
        == (run.json()["spec"]["dataset"])
    )

    values = csv_with_targets(X, {"value": Y + 0.25})
    resp = upload(
        client, "values", {"file": ("v.csv", values)}, target="value", label_column="value"
    )
    assert resp.status_code == 201, resp.text
    assert (resp.json()["target"], resp.json()["classes"]) == ("value", [])
    spec["dataset"] = {"name": "values"}
    loss = client.post("/v1/runs", json=spec).json()["errors"]
    assert "/training/loss/type" in {e["pointer"] for e in loss}


def test_a_sigmoid_regression_output_is_a_warning_on_uploads_and_an_error_on_digits(
    client: TestClient,
) -> None:
    """Uploaded values may all lie in [0, 1] (normalised scores), where a sigmoid fits; the
    built-ins' values are the digits 0-9, which a sigmoid can never reach."""
    scores = csv_with_targets(X, {"score": Y / 2})
    resp = upload(
        client, "scores", {"file": ("s.csv", scores)}, target="value", label_column="score"
    )
    assert resp.status_code == 201, resp.text
    spec = {
        "dataset": {"name": "scores"},
        "model": {"layers": [{"type": "dense", "units": 1, "activation": "sigmoid"}]},
        "training": {"loss": "mean_squared_error", "epochs": 1},
    }
    run = client.post("/v1/runs", json=spec)
    assert run.status_code == 202, run.text
    (warning,) = [w for w in run.json()["warnings"] if w["pointer"].endswith("/activation")]
    assert "[0, 1]" in warning["message"] and "linear" in warning["hint"]

    spec["dataset"] = {"name": "mnist-5k", "target": "value"}
    problem = client.post("/v1/runs", json=spec)
    assert problem.status_code == 422
    assert "/model/layers/0/activation" in {e["pointer"] for e in problem.json()["errors"]}
