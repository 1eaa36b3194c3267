"""Prometheus metrics: requests by route template and status, latency, requests in flight, the connection pool.

With several workers (``movrec serve --workers N``) each process writes to ``PROMETHEUS_MULTIPROC_DIR`` (set by
``movrec serve``) and ``/metrics`` aggregates them all.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
LATENCY = Histogram("movrec_api_request_duration_seconds", "time to the response's last byte",
                    ["method", "route"], buckets=BUCKETS)
REQUESTS = Counter("movrec_api_requests_total", "answered requests", ["method", "route", "status"])
IN_FLIGHT = Gauge("movrec_api_requests_in_flight", "requests being answered", multiprocess_mode="livesum")
POOL = Gauge("movrec_api_db_pool_connections", "database pool connections by state", ["state"],
             multiprocess_mode="livesum")

Scope = dict[str, Any]


class MetricsMiddleware:
    """Pure ASGI: times each HTTP request and counts it under its route template (never the raw path)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            method = scope.get("method", "?")
            LATENCY.labels(method, template).observe(time.perf_counter() - started)
            REQUESTS.labels(method, template, str(status)).inc()


def render(pool_stats: dict[str, int]) -> tuple[bytes, str]:
    """The exposition text (all workers' when multiprocess) and its content type."""
    size, available = pool_stats.get("pool_size", 0), pool_stats.get("pool_available", 0)
    POOL.labels("open").set(size)
    POOL.labels("idle").set(available)
    POOL.labels("waiting").set(pool_stats.get("requests_waiting", 0))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST
