"""Prometheus metrics read from the database at scrape time, and the request middleware."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.session import read_session
from app.db.tables import EpochMetric, Run
from app.enums import RunStatus
from app.inference.cache import ModelCache
from app.metrics import LATENCY, REQUESTS
from app.settings import Settings

access_log = logging.getLogger("trainserve.access")


class StateCollector(Collector):
    """Runs by status and epochs from the database (read at scrape time, so every API process
    reports the same truth), and this process's model cache."""

    def __init__(self, settings: Settings, cache: ModelCache) -> None:
        self.settings, self.cache = settings, cache

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("trainserve_runs", "Runs by status", labels=["status"])
        queue = GaugeMetricFamily(
            "trainserve_queue_depth", "Runs waiting for a worker, per queue", labels=["queue"]
        )
        epochs = CounterMetricFamily("trainserve_epochs_trained", "Epochs trained and recorded")
        try:
            with read_session(self.settings.resolved_database_url) as session:
                rows = session.execute(select(Run.status, func.count()).group_by(Run.status)).all()
                waiting = dict(
                    session.execute(
                        select(Run.queue, func.count())
                        .where(Run.status == "queued")
                        .group_by(Run.queue)
                    ).all()
                )
                epochs.add_metric(
                    [], session.scalar(select(func.count()).select_from(EpochMetric)) or 0
                )
        except Exception:  # a scrape must not fail because the database hiccupped
            rows, waiting = [], {}
        counts = dict(rows)
        for status in RunStatus:
            gauge.add_metric([status.value], counts.get(status, 0))
        for name in dict.fromkeys([*self.settings.queues, *waiting]):
            queue.add_metric([name], waiting.get(name, 0))
        yield gauge
        yield queue
        yield epochs
        hits = CounterMetricFamily(
            "trainserve_model_cache_hits", "Predictions served by a loaded model"
        )
        misses = CounterMetricFamily(
            "trainserve_model_cache_misses", "Predictions that loaded a model"
        )
        hits.add_metric([], self.cache.hits)
        misses.add_metric([], self.cache.misses)
        yield hits
        yield misses


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
            record_request(scope, status, time.perf_counter() - start)


# Cache: the labelled metrics of each (method, route, status) seen, which are the same
# objects every time; looking them up by label values cost ~3 µs per request and metric.
_labelled: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(scope: Scope, status: int, elapsed: float) -> None:
    """Counts, times and access-logs one answered HTTP request."""
    route = getattr(scope.get("route"), "path", "unmatched")
    key = (scope["method"], route, status)
    metrics = _labelled.get(key)
    if metrics is None:
        metrics = _labelled.setdefault(
            key,
            (REQUESTS.labels(key[0], route, str(status)), LATENCY.labels(key[0], route)),
        )
    metrics[0].inc()
    metrics[1].observe(elapsed)
    if access_log.isEnabledFor(logging.INFO):
        # The record access_log.info would make, without its findCaller: a walk up the ASGI
        # stack, a few % of a small prediction's CPU, for the file and line of this call,
        # which no handler of ours writes (the line is left 0).
        entry = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %s",
            (scope["method"], scope["path"], status),
            None,
            "record_request",
            {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        access_log.handle(entry)
