"""The Prometheus registry and the metrics code updates as it runs (no database here, so
every layer may count). The registry is process-global by design: counters accumulate over
the process's life, Prometheus' model."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "trainserve_http_requests_total",
    "HTTP requests",
    ["method", "route", "status"],
    registry=REGISTRY,
)

LATENCY = Histogram(
    "trainserve_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
)

PREDICT_LATENCY = Histogram(
    "trainserve_prediction_seconds",
    "Time to answer a prediction request (decode + forward pass)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)

COALESCED = Histogram(
    "trainserve_requests_per_forward_pass",
    "Small prediction requests answered by one forward pass on the event loop",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
