"""The FastAPI application: routers, error handlers, and the schema check at start-up."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app.api import datasets, health, models, predict, runs, v2, web
from app.api.deps import require_api_key
from app.db.migrations import schema_problem
from app.errors import install_error_handlers
from app.inference import heap
from app.inference.cache import ModelCache
from app.inference.resolve import ModelLookup
from app.inference.serving import PredictionService
from app.inference.warmup import start_warmup
from app.limits import BodyLimit, RouteTimeouts
from app.observability import Observe
from app.settings import Settings, get_settings


class SchemaOutOfDate(RuntimeError):
    pass


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        problem = schema_problem(settings.resolved_database_url)
        if problem is not None:
            raise SchemaOutOfDate(problem)
        settings.runs_dir.mkdir(parents=True, exist_ok=True)
        start_warmup(app.state.model_cache, app.state.model_lookup, settings, app.state.warmup)
        try:
            yield
        finally:
            app.state.model_lookup.close()

    app = FastAPI(
        title="trainserve",
        version="0.1.0",
        summary="Train Keras networks from JSON specs and serve their digit predictions.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model_cache = ModelCache(settings.model_cache_size, on_change=heap.settle)
    app.state.model_lookup = ModelLookup(settings.resolved_database_url)
    app.state.predictions = PredictionService(settings, app.state.model_cache,
                                              app.state.model_lookup)
    app.state.warmup = threading.Event()  # set once named models are loaded
    install_error_handlers(app)
    app.router.routes.extend(predict.FAST_ROUTES)  # first: see app/api/predict.py
    app.include_router(health.router)
    app.include_router(web.router)
    protected = [Depends(require_api_key)]
    app.include_router(datasets.router, dependencies=protected)
    app.include_router(runs.router, dependencies=protected)
    app.include_router(predict.router, dependencies=protected)
    app.include_router(models.router, dependencies=protected)
    app.include_router(v2.live_router)
    app.include_router(v2.router, dependencies=protected)
    # Outermost last: Observe sees every answer, including 413 and 504.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RouteTimeouts)
    app.add_middleware(Observe)
    return app
