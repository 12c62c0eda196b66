"""What clients see when the artifact store is down: 503 problems that name it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db.session import write_session
from app.db.tables import Run
from app.main import create_app
from app.runs.service import create_run
from app.runs.spec import RunSpec
from app.settings import Settings
from tests.fixtures.live import free_port, load_example


def test_an_unreachable_store_is_a_503_naming_it(settings: Settings) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    down = settings.model_copy(
        update={"artifacts_url": "s3://models/prod", "s3_endpoint_url": endpoint}
    )
    run, _ = create_run(down, RunSpec.model_validate(load_example("zero-vs-one")))
    with write_session(down.resolved_database_url) as s:
        s.execute(
            update(Run)
            .where(Run.id == run.id)
            .values(status="succeeded", artifact_sha256="a" * 64, artifact_bytes=10)
        )
    with TestClient(create_app(down)) as client:
        for resp in (
            client.get(f"/v1/runs/{run.id}/model"),
            client.post(f"/v1/runs/{run.id}/predict", json={"instances": [[0.0] * 784]}),
        ):
            assert resp.status_code == 503, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            assert "s3://models/prod" in resp.json()["detail"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "artifact store s3://models/prod" in ready.json()["detail"]
