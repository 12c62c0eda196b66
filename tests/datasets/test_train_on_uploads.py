"""Uploaded datasets in every format train in real workers and serve predictions; an upload
cut short by a crash leaves nothing behind."""

from __future__ import annotations

import base64
import signal
import socket
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.datasets.files import (
    csv_bytes,
    csv_with_targets,
    folders_zip,
    idx_bytes,
    mnist_subset,
    npz_bytes,
    photo_png,
    yes_no_columns,
)
from tests.fixtures.live import LiveService, load_example, module_service

# Two service starts, six uploads, six trainings and the first TensorFlow load in the API
# process: minutes on a busy 2-core machine, so more than the suite's default 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CLASSES = (0, 1, 7)


def spec_for(dataset: str) -> dict:
    return {
        "name": f"on-{dataset}",
        "dataset": {"name": dataset},
        "model": {
            "layers": [
                {"type": "dense", "units": 32, "activation": "relu"},
                {"type": "dense", "units": len(CLASSES), "activation": "softmax"},
            ]
        },
        "training": {
            "loss": "sparse_categorical_crossentropy",
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "epochs": 2,
            "batch_size": 16,
        },
    }


def predict(svc: LiveService, run_id: str, instances: list) -> list[dict]:
    """The first prediction loads TensorFlow and the model into the API process, which can
    outlast the 30 s route limit on a loaded CI machine: allow it a few tries."""
    deadline = time.monotonic() + 180
    while True:
        try:
            resp = svc.http.post(
                f"/v1/runs/{run_id}/predict", json={"instances": instances}, timeout=60
            )
        except httpx.TimeoutException:
            resp = None
        if resp is not None and resp.status_code == 200:
            return list(resp.json()["predictions"])
        assert resp is None or resp.status_code in (503, 504), resp.text
        assert time.monotonic() < deadline, "no prediction within 180 s"


def crash_mid_upload(svc: LiveService) -> None:
    """Send half of a large multipart upload, then kill the whole service with SIGKILL."""
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ncut\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", svc.port)) as conn:
        conn.sendall(
            b"POST /v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
            + head
            + b"0," * 1_000_000
        )
        svc.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """One service for the module (its tests need not run in order: each names its own
    datasets); the crash test kills it and starts it again."""
    with module_service(tmp_path_factory, "uploads") as service:
        yield service


def test_uploads_train_and_predict_and_a_crash_leaves_nothing(svc: LiveService) -> None:
    crash_mid_upload(svc)
    svc.start(wait_ready=False)  # uploads need no worker; runs wait in the queue for it
    assert "cut" not in [d["name"] for d in svc.http.get("/v1/datasets").json()["items"]]
    assert not list(svc.data_dir.rglob("cut"))

    x, y = mnist_subset(CLASSES, per_class=30)
    uploads = {
        "as-npz": {"file": ("d.npz", npz_bytes(x=x, y=y))},
        "as-csv": {"file": ("train.csv", csv_bytes(x, y))},
        "as-idx": {"images": ("i.gz", idx_bytes(x, gz=True)), "labels": ("l", idx_bytes(y))},
        "as-zip": {"file": ("photos.zip", folders_zip(x, y))},
    }
    datasets = {}
    for name, files in uploads.items():
        resp = svc.http.post("/v1/datasets", data={"name": name}, files=files)
        assert resp.status_code == 201, resp.text
        datasets[name] = resp.json()
    runs = {name: svc.submit(spec_for(name))["id"] for name in uploads}

    held_out_x, held_out_y = mnist_subset(CLASSES, per_class=5, skip=30)  # never trained on
    for name, run_id in runs.items():
        run = svc.wait_for(run_id)
        assert run["status"] == "succeeded", (name, run["failure_reason"])
        assert run["spec"]["dataset"]["version"] == 1
        assert run["reproducibility"]["dataset_sha256"] == datasets[name]["sha256"]
        assert run["reproducibility"]["dataset_version"] == 1
        assert run["evaluation"]["labels"] == list(CLASSES)
        assert run["evaluation"]["accuracy"] >= 0.6, (name, run["evaluation"])

        if name == "as-zip":  # trained on photos: predict on photos, through the same recipe
            instances = [{"b64": base64.b64encode(photo_png(d)).decode()} for d in held_out_x]
        else:
            instances = held_out_x.tolist()
        labels = np.array([p["label"] for p in predict(svc, run_id, instances)])
        assert set(labels) <= set(CLASSES)
        assert (labels == held_out_y).mean() >= 0.6, (name, labels, held_out_y)

    # Finished runs keep their dataset's digest even once the dataset is gone.
    assert svc.http.delete("/v1/datasets/as-npz").status_code == 204
    kept = svc.run(runs["as-npz"])["reproducibility"]["dataset_sha256"]
    assert kept == datasets["as-npz"]["sha256"]


def test_csv_yes_no_columns_and_float_targets_train_and_predict(svc: LiveService) -> None:
    """A multi-label CSV (three 0/1 columns of the uploader's naming) and a regression CSV
    (a float column), trained for one epoch with the bundled example specs."""
    x, y = mnist_subset(tuple(range(10)), per_class=20)
    cols = yes_no_columns(y)
    names = list(cols)

    def upload(name: str, data: bytes, **fields: str) -> dict:
        files = {"file": (f"{name}.csv", data)}
        resp = svc.http.post("/v1/datasets", data={"name": name, **fields}, files=files)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    multi = upload(
        "yes-no", csv_with_targets(x, cols), target="multilabel", label_columns=",".join(names)
    )
    assert (multi["target"], multi["label_names"], multi["classes"]) == ("multilabel", names, [])
    assert multi["label_counts"] == {n: int(v.sum()) for n, v in cols.items()}
    values = upload(
        "values", csv_with_targets(x, {"value": y + 0.5}), target="value", label_column="value"
    )
    assert (values["target"], values["classes"]) == ("value", [])
    assert svc.http.get("/v1/datasets/yes-no/preview.png").status_code == 200

    specs = []
    for example, dataset in (("digits-multilabel", "yes-no"), ("digits-regression", "values")):
        spec = load_example(example, epochs=1)
        spec["dataset"] = {"name": dataset}  # target left out: it follows the dataset
        specs.append(spec)
    ml_id, rg_id = (svc.submit(spec)["id"] for spec in specs)
    ml, rg = svc.wait_for(ml_id), svc.wait_for(rg_id)
    assert ml["status"] == "succeeded", ml["failure_reason"]
    assert rg["status"] == "succeeded", rg["failure_reason"]
    assert (
        ml["spec"]["dataset"] | {"target": "multilabel", "label_names": names}
        == ml["spec"]["dataset"]
    )
    assert ml["evaluation"]["labels"] == names
    assert ml["reproducibility"]["dataset_sha256"] == multi["sha256"]
    assert rg["spec"]["dataset"]["target"] == "value"
    assert np.isfinite(rg["evaluation"]["mae"])

    digit = mnist_subset((3,), per_class=1, skip=20)[0].tolist()
    [answer] = predict(svc, ml_id, digit)
    assert answer["label_names"] == names and set(answer["labels"]) <= set(names)
    [answer] = predict(svc, rg_id, digit)
    assert isinstance(answer["value"], float)
