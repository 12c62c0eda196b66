"""Prometheus metrics. The registry is process-global by design (a cache of counters)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.models import EpochMetric, Run
from app.db.session import read_session
from app.inference.cache import ModelCache
from app.settings import Settings

# Process-wide by design: counters accumulate over the process's life (Prometheus' model).
REGISTRY = CollectorRegistry(auto_describe=True)
access_log = logging.getLogger("trainserve.access")

REQUESTS = Counter("trainserve_http_requests_total", "HTTP requests", ["method", "route", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("trainserve_http_request_seconds", "HTTP request latency", ["method", "route"],
                    registry=REGISTRY)


class StateCollector(Collector):
    """Runs by status and epochs from the database (read at scrape time, so every API process
    reports the same truth), and this process's model cache."""

    def __init__(self, settings: Settings, cache: ModelCache) -> None:
        self.settings, self.cache = settings, cache

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("trainserve_runs", "Runs by status", labels=["status"])
        queue = GaugeMetricFamily("trainserve_queue_depth", "Runs waiting for a worker")
        epochs = CounterMetricFamily("trainserve_epochs_trained", "Epochs trained and recorded")
        try:
            with read_session(self.settings.resolved_database_url) as session:
                rows = session.execute(select(Run.status, func.count()).group_by(Run.status)).all()
                epochs.add_metric([], session.scalar(select(func.count()).select_from(EpochMetric)) or 0)
        except Exception:  # a scrape must not fail because the database hiccupped
            rows = []
        counts = dict(rows)
        for status in ("queued", "running", "cancelling", "succeeded", "failed", "cancelled"):
            gauge.add_metric([status], counts.get(status, 0))
        queue.add_metric([], counts.get("queued", 0))
        yield gauge
        yield queue
        yield epochs
        hits = CounterMetricFamily("trainserve_model_cache_hits", "Predictions served by a loaded model")
        misses = CounterMetricFamily("trainserve_model_cache_misses", "Predictions that loaded a model")
        hits.add_metric([], self.cache.hits)
        misses.add_metric([], self.cache.misses)
        yield hits
        yield misses

PREDICT_LATENCY = Histogram(
    "trainserve_prediction_seconds", "Time to answer a prediction request (decode + forward pass)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY)

COALESCED = Histogram(
    "trainserve_requests_per_forward_pass",
    "Small prediction requests answered by one forward pass on the event loop",
    buckets=(1, 2, 4, 8, 16, 32, 64), registry=REGISTRY)


class Observe:
    """Counts, times and logs every request (pure ASGI: no per-request task, streams intact)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            access_log.info("%s %s %s", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round(elapsed * 1000, 2)})
