"""Prometheus metrics of one server process, served at `/metrics` (prometheus_client, in the
`server-scale` extra; without it there is no /metrics and nothing else changes).

An ASGI middleware times and counts every request by method, route template (never the raw
path: one series per route, not per run) and status, counts the bytes each way, the segment
uploads by outcome, and the 5xx answers; the database connections this process holds are read
from the pool when scraped. Each app has its own registry, so several apps in one process
(the tests) do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .db import Driver

#: seconds: from a cached metadata read to a 256 MB segment upload
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
Scope = dict[str, Any]
#: a segment upload's status -> its outcome (anything else: "refused")
OUTCOMES = {201: "stored", 200: "already_stored"}
ASGIApp = Callable[..., Any]


class _Connections(Collector):
    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(
            "flightlog_db_connections", "database connections this process holds", labels=["state"]
        )
        c = self.driver.connections()
        g.add_metric(["open"], c["open"])
        g.add_metric(["in_use"], c["in_use"])
        yield g


class ServerMetrics:
    def __init__(self, driver: Driver) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "flightlog_requests", "requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "flightlog_request_seconds",
            "time to answer a request, body included",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.received = Counter("flightlog_received_bytes", "request body bytes", registry=r)
        self.sent = Counter("flightlog_sent_bytes", "response body bytes", registry=r)
        self.segments = Counter(
            "flightlog_segments",
            "segment uploads: stored, already_stored, refused",
            ["outcome"],
            registry=r,
        )
        self.errors = Counter("flightlog_errors", "5xx answers", ["route"], registry=r)
        r.register(_Connections(driver))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def measured(scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start = time.perf_counter()
            status = [500]

            async def counted_receive() -> dict[str, Any]:
                msg = await receive()
                if msg["type"] == "http.request":
                    self.received.inc(len(msg.get("body", b"")))
                return msg

            async def counted_send(msg: dict[str, Any]) -> None:
                if msg["type"] == "http.response.start":
                    status[0] = msg["status"]
                elif msg["type"] == "http.response.body":
                    self.sent.inc(len(msg.get("body", b"")))
                await send(msg)

            try:
                await app(scope, counted_receive, counted_send)
            finally:
                self._record(scope, status[0], time.perf_counter() - start)

        return measured

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope.get("method", "")
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status >= 500:
            self.errors.labels(route).inc()
        if method == "PUT" and route.endswith("/segments/{stream}/{name}"):
            self.segments.labels(OUTCOMES.get(status, "refused")).inc()
        for each in scope.get("state", {}).get("segment_statuses", ()):  # a batch (batch_routes)
            self.segments.labels(OUTCOMES.get(each, "refused")).inc()
