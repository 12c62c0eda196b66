"""The run list at 10,000 runs on SQLite: ``GET /v1/runs?status=succeeded&limit=100``.

One database file, the real app, measured two ways: in process through the test client
(routing, the query and serialisation, plus the test client's own thread hops, ~2.5 ms a
request even for /healthz), and over HTTP against `trainserve serve` (uvicorn, loopback,
a keep-alive client): what a user's request costs.
- inserts 10,000 runs (60 % succeeded, the rest spread over the other statuses);
- times the unfiltered first page, then the filtered first page and a filtered page
  further down (with a cursor), first with the index the list had before migration 0003,
  ``(status, created_at)``, then with ``(status, id)``, interleaved so machine noise
  hits both alike;
- also times the filtered query alone (listing.page_statement), without routing and JSON;
- then, with the new index, the same pages over HTTP, and /healthz both ways (the floor);
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

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from app.db.base import utcnow
from app.db.migrations import upgrade
from app.db.session import get_engine, read_session
from app.db.tables import Run
from app.enums import RunStatus
from app.main import create_app
from app.runs.ids import new_run_id
from app.runs.listing import page_statement
from app.runs.spec import RunSpec
from app.runs.validation import check_spec
from app.settings import Settings
from tests.fixtures.live import LiveService, load_example

TARGET_P95_MS = 10.0
OLD, NEW = "old (status, created_at)", "new (status, id)"
HTTP = "new, over HTTP (trainserve serve)"
SERVER = "new, the service's access log"
INDEXES = {
    OLD: "CREATE INDEX ix_bench ON runs (status, created_at)",
    NEW: "CREATE INDEX ix_bench ON runs (status, id)",
}
Results = dict[tuple[str, str], list[float]]


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


def timed(client: TestClient | httpx.Client, path: str, repeat: int) -> list[float]:
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
        with read_session(settings.resolved_database_url) as session:
            rows = session.execute(*page_statement(RunStatus.SUCCEEDED, 100, None)).all()
        times.append((time.perf_counter() - start) * 1000)
        assert len(rows) == 101
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def page_paths(client: TestClient) -> dict[str, str]:
    page = client.get("/v1/runs?status=succeeded&limit=100").json()
    return {
        "unfiltered": "/v1/runs?limit=100",
        "filtered": "/v1/runs?status=succeeded&limit=100",
        "filtered, page 2": f"/v1/runs?status=succeeded&limit=100&cursor={page['next_cursor']}",
        "/healthz (floor)": "/healthz",
    }


def in_process(settings: Settings, paths: dict[str, str], args: argparse.Namespace) -> Results:
    """Old and new index interleaved, through the test client, and the query alone."""
    results: Results = {}
    with TestClient(create_app(settings)) as client:
        for _ in range(args.rounds):
            for label, create in INDEXES.items():
                use_index(settings, create)
                for kind, path in paths.items():
                    timed(client, path, 10)  # warm-up
                    results.setdefault((label, kind), []).extend(timed(client, path, args.repeat))
                # The query alone (SQLAlchemy + SQLite), without routing and serialising.
                results.setdefault((label, "query only"), []).extend(
                    timed_query(settings, args.repeat)
                )
    return results


def over_http(data_dir: Path, paths: dict[str, str], args: argparse.Namespace) -> Results:
    """The new index, through `trainserve serve` (no workers) over loopback HTTP: as the client
    sees it, and as the service's access log times it (the app's own time, without the
    client's parsing of a 130 KB answer or the loopback)."""
    results: Results = {}
    svc = LiveService(data_dir, workers=0).start()
    try:
        for _ in range(args.rounds):
            for kind, path in paths.items():
                timed(svc.http, path, 10)  # warm-up
                results.setdefault((HTTP, kind), []).extend(timed(svc.http, path, args.repeat))
    finally:
        svc.stop()  # flushes the access log
        svc.http.close()
    # The list's requests in the order they were made (every /healthz left out).
    durations = [r["duration_ms"] for r in svc.log_records() if r.get("path") == "/v1/runs"]
    kinds = [kind for kind, path in paths.items() if path.startswith("/v1/runs")]
    for round_ in range(args.rounds):
        for i, kind in enumerate(kinds):
            start = (round_ * len(kinds) + i) * (10 + args.repeat) + 10
            results.setdefault((SERVER, kind), []).extend(durations[start : start + args.repeat])
    return results


def report(results: Results, args: argparse.Namespace) -> None:
    print(f"{args.runs:,} runs, SQLite, {args.rounds} x {args.repeat} requests per cell")
    print(f"{'index, client':34} {'query':18} {'p50 ms':>8} {'p95 ms':>8}")
    for (label, kind), times in results.items():
        print(f"{label:34} {kind:18} {statistics.median(times):8.2f} {p95(times):8.2f}")
    old, new = results[(OLD, "filtered")], results[(NEW, "filtered")]
    print(f"filtered p95, old / new index: {p95(old) / p95(new):.1f}x")
    old_q, new_q = results[(OLD, "query only")], results[(NEW, "query only")]
    print(f"query only p95, old / new index: {p95(old_q) / p95(new_q):.1f}x")
    base = results[(NEW, "unfiltered")]
    print(f"filtered / unfiltered p95 with the new index: {p95(new) / p95(base):.2f}")
    for label in (NEW, HTTP, SERVER):
        value = p95(results[(label, "filtered")])
        if value > TARGET_P95_MS:
            print(f"TARGET MISSED ({label}): filtered p95 {value:.2f} ms > {TARGET_P95_MS} ms")


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
            paths = page_paths(client)
        results = in_process(settings, paths, args)
        use_index(settings, INDEXES[NEW])  # what migration 0003 creates
        results.update(over_http(Path(tmp), paths, args))
    report(results, args)


if __name__ == "__main__":
    main()
