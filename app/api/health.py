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
from app.db.models import Worker
from app.db.session import read_session
from app.errors import problem_response
from app.observability import REGISTRY, StateCollector
from app.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness_problem(settings: Settings, warmed_up: bool) -> str | None:
    url = settings.resolved_database_url
    if (problem := schema_problem(url)) is not None:
        return problem
    since = utcnow() - timedelta(seconds=settings.worker_stale_seconds)
    with read_session(url) as session:
        live = session.scalar(select(func.count()).select_from(Worker)
                              .where(Worker.heartbeat_at >= since))
    if not live:
        return (f"no worker has sent a heartbeat in the last {settings.worker_stale_seconds:g} s; "
                "start one with `trainserve worker` or TRAINSERVE_WORKERS >= 1")
    if not warmed_up:
        return "named models are still loading into the prediction cache"
    return None


@router.get("/readyz", responses={503: {"description": "not ready; detail says why",
                                        "content": {"application/problem+json": {}}}})
def readyz(settings: SettingsDep, request: Request) -> JSONResponse:
    problem = readiness_problem(settings, request.app.state.warmup.is_set())
    if problem is not None:
        return problem_response(503, "Not ready", problem, type_="/problems/not-ready")
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(settings: SettingsDep, request: Request) -> Response:
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(settings, request.app.state.model_cache))
    return Response(generate_latest(REGISTRY) + generate_latest(state), media_type=CONTENT_TYPE_LATEST)
