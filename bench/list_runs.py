"""The run list at 10,000 runs on SQLite: ``GET /v1/runs?status=succeeded&limit=100``.

One process, one database file, the real app (in-process ASGI through the test client, so
the figures include routing, the query and serialisation, not the network):
- inserts 10,000 runs (60 % succeeded, the rest spread over the other statuses);
- times the unfiltered first page, then the filtered first page and a filtered page
  further down (with a cursor), first with the index the list had before migration 0003,
  ``(status, created_at)``, then with ``(status, id)``, interleaved so machine noise
  hits both alike;
- also times the filtered query alone (service.list_runs), without routing and JSON;
- prints p50/p95 and the ratios; target: filtered p95 <= 10 ms with the new index.
Always exits 0; a miss is printed as a "TARGET MISSED: ..." line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from app.db.base import utcnow
from app.db.migrations import upgrade
from app.db.session import get_engine
from app.db.tables import Run
from app.enums import RunStatus
from app.main import create_app
from app.runs.ids import new_run_id
from app.runs.service import list_runs
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from tests.fixtures.live import load_example

TARGET_P95_MS = 10.0
INDEXES = {
    "old (status, created_at)": "CREATE INDEX ix_bench ON runs (status, created_at)",
    "new (status, id)": "CREATE INDEX ix_bench ON runs (status, id)",
}


def fill(settings: Settings, n: int) -> None:
    spec, _ = check_spec(RunSpec.model_validate(load_example("zero-vs-one")), settings)
    body = spec.model_dump(mode="json")
    others = [s for s in RunStatus if s != RunStatus.SUCCEEDED]
    rows = []
    for i in range(n):
        status = RunStatus.SUCCEEDED if i % 10 < 6 else others[i % len(others)]
        rows.append(
            {
                "id": new_run_id(),
                "name": f"run-{i}",
                "status": status,
                "spec": body,
                "spec_sha256": "0" * 64,
                "warnings": [],
                "epochs": 20,
                "created_at": utcnow(),
                "reproducibility": {},
                "evaluation": {"loss": 0.1, "accuracy": 0.97},
            }
        )
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(Run), rows)


def use_index(settings: Settings, create: str) -> None:
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_runs_status_id"))
        conn.execute(text("DROP INDEX IF EXISTS ix_runs_status_created"))
        conn.execute(text("DROP INDEX IF EXISTS ix_bench"))
        conn.execute(text(create))
        conn.execute(text("ANALYZE"))


def timed(client: TestClient, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        resp = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200, resp.text
    return times


def timed_query(settings: Settings, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        runs, _ = list_runs(settings, RunStatus.SUCCEEDED, 100, None)
        times.append((time.perf_counter() - start) * 1000)
        assert len(runs) == 100
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        upgrade(settings.resolved_database_url)
        fill(settings, args.runs)
        with TestClient(create_app(settings)) as client:
            page = client.get("/v1/runs?status=succeeded&limit=100").json()
            deeper = f"/v1/runs?status=succeeded&limit=100&cursor={page['next_cursor']}"
            paths = {
                "unfiltered": "/v1/runs?limit=100",
                "filtered": "/v1/runs?status=succeeded&limit=100",
                "filtered, page 2": deeper,
            }
            results: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for label, create in INDEXES.items():
                    use_index(settings, create)
                    for kind, path in paths.items():
                        timed(client, path, 10)  # warm-up
                        results.setdefault((label, kind), []).extend(
                            timed(client, path, args.repeat)
                        )
                    # The query alone (SQLAlchemy + SQLite), without routing and serialising.
                    results.setdefault((label, "query only"), []).extend(
                        timed_query(settings, args.repeat)
                    )
    print(f"{args.runs:,} runs, SQLite, {args.rounds} x {args.repeat} requests per cell")
    print(f"{'index':28} {'query':18} {'p50 ms':>8} {'p95 ms':>8}")
    for (label, kind), times in results.items():
        print(f"{label:28} {kind:18} {statistics.median(times):8.2f} {p95(times):8.2f}")
    old, new = (
        results[("old (status, created_at)", "filtered")],
        results[("new (status, id)", "filtered")],
    )
    base = results[("new (status, id)", "unfiltered")]
    print(f"filtered p95, old / new index: {p95(old) / p95(new):.1f}x")
    old_q, new_q = (
        results[("old (status, created_at)", "query only")],
        results[("new (status, id)", "query only")],
    )
    print(f"query only p95, old / new index: {p95(old_q) / p95(new_q):.1f}x")
    print(f"filtered / unfiltered p95 with the new index: {p95(new) / p95(base):.2f}")
    if p95(new) > TARGET_P95_MS:
        print(f"TARGET MISSED: filtered p95 {p95(new):.2f} ms > {TARGET_P95_MS} ms")


if __name__ == "__main__":
    main()
