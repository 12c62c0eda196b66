"""Runs whose artifacts live in S3 (moto over HTTP) and whose database is PostgreSQL: any
machine can serve what another trained, and nothing of a run stays on the trainer's disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.datasets.builtin import load_raw
from tests.fixtures.databases import postgres_database
from tests.fixtures.live import LiveService, load_example
from tests.fixtures.s3server import S3Server

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


def digits_spec(epochs: int) -> dict[str, object]:
    spec = load_example("digits-relu", epochs=epochs)
    spec["dataset"] = {"name": "digits", "test_fraction": 0.2}
    return spec


def test_an_api_with_an_empty_data_dir_serves_a_model_trained_elsewhere(
    tmp_path: Path, s3_server: S3Server, s3_url: str
) -> None:
    store = {"artifacts_url": s3_url, "s3_endpoint_url": s3_server.url}
    with postgres_database() as db:
        trainer = LiveService(tmp_path / "machine-a", db, workers=1, **store).start()
        api = None
        try:
            run_id = trainer.submit(digits_spec(epochs=2))["id"]
            done = trainer.wait_for(run_id)
            assert done["status"] == "succeeded", done["failure_reason"]
            bucket = s3_url.removeprefix("s3://").split("/")[0]
            stored = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
            keys = {o["Key"] for o in stored}
            # Content-addressed, and nothing but the finished run's files: the trainer
            # dropped each checkpoint once the next was named, and the last once it finished.
            sha = done["artifact"]["sha256"]
            assert f"artifacts/runs/{run_id}/model-{sha}.keras" in keys
            assert not [k for k in keys if "checkpoint" in k], keys
            assert not (tmp_path / "machine-a" / "runs" / run_id).exists()  # only a cache

            api = LiveService(tmp_path / "machine-b", db, workers=0, **store).start()
            x, _ = load_raw("digits", tmp_path)
            first = api.http.post(  # the first answer loads TensorFlow and the model: be patient
                f"/v1/runs/{run_id}/predict", json={"instances": x[:2].tolist()}, timeout=240
            )
            assert first.status_code == 200, first.text
            again = trainer.http.post(
                f"/v1/runs/{run_id}/predict", json={"instances": x[:2].tolist()}, timeout=240
            )
            assert first.json()["predictions"] == again.json()["predictions"]
            model = api.http.get(f"/v1/runs/{run_id}/model")
            assert model.status_code == 200
            assert hashlib.sha256(model.content).hexdigest() == done["artifact"]["sha256"]

            assert api.http.delete(f"/v1/runs/{run_id}").status_code == 204
            assert "Contents" not in s3_server.client().list_objects_v2(Bucket=bucket)
        finally:
            trainer.stop()
            if api is not None:
                api.stop()
