"""Property-based fuzzing of every operation in the app's own OpenAPI document (schemathesis 4).

Whatever schemathesis sends — valid or invalid bodies, odd query strings, strange path ids —
the service must answer with something other than a 5xx, except for a 503 the operation
documents (``/readyz`` without a worker, ``mnist`` that cannot be downloaded) sent as a problem.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.db.migrations import upgrade
from app.main import create_app
from tests.fixtures.databases import make_settings


def _fuzz_app() -> tuple[Any, Path]:
    """The app over a real, migrated SQLite file, built the way tests/conftest.py builds it.

    ``mnist`` points at a closed local port, so a fuzzed spec naming it fails fast with the
    documented 503 instead of downloading 11 MB.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="trainserve-fuzz-"))
    s = make_settings(
        data_dir / "var", mnist_url="http://127.0.0.1:9/mnist.npz", download_timeout=1.0
    )
    upgrade(s.resolved_database_url)
    return create_app(s), data_dir


# Built at import: schemathesis 4's lazy `from_fixture` loader does not work with pytest 9
# (it sets `request.node._nodeid`, which pytest 9 removed), so the schema is loaded eagerly.
# Loading it enters schemathesis' ASGI client, which runs the app's lifespan (schema check,
# runs dir) once; every generated call then shares that started app.
_APP, _DATA_DIR = _fuzz_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    schemathesis.python.asgi.shutdown_lifespans()
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


def documented_statuses(case: Any) -> set[str]:
    return {str(code) for code in (case.operation.definition.raw.get("responses") or {})}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any) -> None:
    response = case.call()
    if response.status_code == 503 and "503" in documented_statuses(case):
        # A documented outage must still be a problem document that says why.
        assert response.headers.get("content-type", [""])[0].startswith("application/problem+json")
        assert response.json()["detail"]
        return
    case.validate_response(response, checks=[not_a_server_error])


def test_every_operation_is_fuzzed() -> None:
    """Guard against a schema that silently lost its routes: the fuzz above covers all of them."""
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert {
        "POST /v1/runs",
        "GET /v1/runs",
        "GET /v1/runs/{run_id}",
        "POST /v1/runs/{run_id}/cancel",
        "DELETE /v1/runs/{run_id}",
        "GET /v1/datasets",
        "GET /v1/datasets/{name}",
        "GET /healthz",
        "GET /readyz",
    } <= labels
