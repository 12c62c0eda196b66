"""The API process stays light: TensorFlow loads only in workers (and for a first prediction)."""

from __future__ import annotations

import subprocess
import sys

from tests.fixtures.live import ROOT

PROBE = """
import sys
from fastapi.testclient import TestClient
from app.db.migrations import upgrade
from app.main import create_app
from app.settings import Settings
import app.cli, app.training.pool
s = Settings(data_dir=sys.argv[1], _env_file=None)
upgrade(s.resolved_database_url)
with TestClient(create_app(s)) as c:
    for path in ("/healthz", "/readyz", "/v1/runs", "/v1/datasets", "/metrics", "/openapi.json"):
        c.get(path)
print(sorted(m for m in ("tensorflow", "keras", "sklearn") if m in sys.modules))
"""


def test_serving_non_ml_routes_never_imports_tensorflow(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
