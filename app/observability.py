"""Prometheus metrics. The registry is process-global by design (a cache of counters)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.db.models import Run
from app.db.session import read_session
from app.settings import get_settings

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("trainserve_http_requests_total", "HTTP requests", ["method", "route", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("trainserve_http_request_seconds", "HTTP request latency", ["method", "route"],
                    registry=REGISTRY)


class RunCollector(Collector):
    """Runs by status, read at scrape time so every API process reports the same truth."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("trainserve_runs", "Runs by status", labels=["status"])
        queue = GaugeMetricFamily("trainserve_queue_depth", "Runs waiting for a worker")
        try:
            with read_session(get_settings().resolved_database_url) as session:
                rows = session.execute(select(Run.status, func.count()).group_by(Run.status)).all()
        except Exception:  # a scrape must not fail because the database hiccupped
            rows = []
        counts = dict(rows)
        for status in ("queued", "running", "cancelling", "succeeded", "failed", "cancelled"):
            gauge.add_metric([status], counts.get(status, 0))
        queue.add_metric([], counts.get("queued", 0))
        yield gauge
        yield queue


REGISTRY.register(RunCollector())

PREDICT_LATENCY = Histogram(
    "trainserve_prediction_seconds", "Time to answer a prediction request (decode + forward pass)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY)
