"""The FastAPI application: routers, error handlers, and the schema check at start-up."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app.api import (
    datasets,
    examples,
    health,
    model_names,
    openapi,
    predict,
    runs,
    sweeps,
    v2,
    web,
)
from app.api.deps import require_api_key
from app.api.lean import LeanApp
from app.api.openapi import document_models
from app.datasets.storage import clear_staging
from app.db.migrations import schema_problem
from app.errors import install_error_handlers
from app.inference import gc_freeze
from app.inference.cache import ModelCache
from app.inference.resolve import ModelLookup
from app.inference.serving import PredictionService
from app.inference.warmup import start_warmup
from app.limits import BodyLimit, RouteTimeouts, UploadLimit
from app.observability import Observe
from app.runs.spec import RunSpec
from app.settings import Settings, get_settings
from app.sweeps.spec import SweepSpec


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
        clear_staging(settings)  # uploads a crash cut short
        start_warmup(app.state.model_cache, app.state.model_lookup, settings, app.state.warmup)
        try:
            yield
        finally:
            app.state.model_lookup.close()

    app = LeanApp(
        title="trainserve",
        version="0.1.0",
        summary="Train Keras networks from JSON specs and serve their digit predictions.",
        lifespan=lifespan,
        docs_url=None,  # served by app.api.web from vendored assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.model_cache = ModelCache(settings.model_cache_size, on_change=gc_freeze.refreeze)
    app.state.model_lookup = ModelLookup(settings.resolved_database_url)
    app.state.predictions = PredictionService(
        settings, app.state.model_cache, app.state.model_lookup
    )
    app.state.warmup = threading.Event()  # set once named models are loaded
    install_error_handlers(app)
    openapi.install(app, keys_configured=bool(settings.api_key))
    document_models(app, RunSpec, SweepSpec)  # POST /v1/runs and /v1/sweeps parse their bodies
    # First, and as they are (not re-wrapped by include_router): see app/api/predict.py.
    app.router.routes.extend(predict.router.routes)
    app.lean_routes = predict.router.routes  # and past most of the middleware: app/api/lean.py
    app.include_router(health.router)
    app.include_router(web.router)
    app.mount(web.STATIC_PREFIX, web.static_files(), name="static")
    protected = [Depends(require_api_key)]
    app.include_router(datasets.router, dependencies=protected)
    app.include_router(runs.router, dependencies=protected)
    app.include_router(examples.router, dependencies=protected)
    app.include_router(model_names.router, dependencies=protected)
    app.include_router(sweeps.router, dependencies=protected)
    app.include_router(v2.live_router)
    app.include_router(v2.router, dependencies=protected)
    # Outermost last: Observe sees every answer, including 413 and 504.
    dataset_upload = UploadLimit(
        "POST",
        "/v1/datasets",
        settings.max_dataset_bytes,
        "upload a smaller dataset (pixels as uint8 compress best), or raise "
        "TRAINSERVE_MAX_DATASET_BYTES",
    )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, uploads=(dataset_upload,))
    app.add_middleware(RouteTimeouts)
    app.add_middleware(Observe)
    return app
