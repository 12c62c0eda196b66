"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import func, select

from app.api.deps import SettingsDep
from app.db.base import utcnow
from app.db.migrations import schema_problem
from app.db.session import read_session
from app.db.tables import Worker
from app.dispatch import dispatcher_for
from app.errors import problem_response
from app.metrics import REGISTRY
from app.observability import StateCollector
from app.settings import Settings
from app.storage import StoreError, store_for

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness_checks(settings: Settings, warmed_up: bool) -> dict[str, str | None]:
    """Each part the service needs, and why it is not ready (None when it is)."""
    url = settings.resolved_database_url
    checks: dict[str, str | None] = {"database": schema_problem(url)}
    checks["store"] = store_problem(settings)
    checks["broker"] = dispatcher_for(settings).problem()
    checks["workers"] = None if checks["database"] else workers_problem(settings)
    checks["models"] = None if warmed_up else "named models are still loading into the cache"
    return checks


def workers_problem(settings: Settings) -> str | None:
    since = utcnow() - timedelta(seconds=settings.worker_stale_seconds)
    with read_session(settings.resolved_database_url) as session:
        live = session.scalar(
            select(func.count()).select_from(Worker).where(Worker.heartbeat_at >= since)
        )
    if live:
        return None
    start = dispatcher_for(settings).start_worker_hint
    return (
        f"no worker has sent a heartbeat in the last {settings.worker_stale_seconds:g} s; "
        f"start one with {start}"
    )


def store_problem(settings: Settings) -> str | None:
    store = store_for(settings)
    try:
        store.check()
    except StoreError as exc:
        return f"artifact store {store.location} is unavailable: {exc.reason}"
    return None


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "not ready; detail says why",
            "content": {"application/problem+json": {}},
        }
    },
)
def readyz(settings: SettingsDep, request: Request) -> JSONResponse:
    checks = readiness_checks(settings, request.app.state.warmup.is_set())
    problems = [f"{part}: {why}" for part, why in checks.items() if why is not None]
    if problems:
        return problem_response(
            503,
            "Not ready",
            "; ".join(problems),
            type_="/problems/not-ready",
            extra={"checks": {part: why or "ok" for part, why in checks.items()}},
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(settings: SettingsDep, request: Request) -> Response:
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(settings, request.app.state.model_cache))
    return Response(
        generate_latest(REGISTRY) + generate_latest(state), media_type=CONTENT_TYPE_LATEST
    )
