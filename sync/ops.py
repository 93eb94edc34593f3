"""What a load balancer and a monitoring system ask a server: `/healthz` and `/metrics`.

`GET /healthz` (no key) checks what a replica needs to serve: a database round trip and the
store (a listing of the bucket's prefix, or the upload directory being writable). 200
`{"status": "ok", ...}` when both answer; 503 naming what failed, so a load balancer takes the
replica out while its database or bucket is unreachable. `GET /metrics` is Prometheus' text
format (sync/metrics.py), when prometheus_client is installed.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import anyio
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from .db import Driver

log = logging.getLogger("flightlog.server")


class Checkable(Protocol):
    def check(self) -> None: ...


def install_ops(app: FastAPI, driver: Driver, store: Checkable) -> None:
    """Add /healthz, and /metrics with its middleware when prometheus_client is there."""
    router = APIRouter()

    def ping_db() -> None:
        with driver.tx() as db:
            db.execute("SELECT 1").fetchone()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        doc: dict[str, Any] = {"status": "ok"}
        for name, probe in (("db", ping_db), ("store", store.check)):
            start = time.perf_counter()
            try:
                with anyio.fail_after(10):
                    await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
                doc[name] = f"ok ({(time.perf_counter() - start) * 1000:.0f} ms)"
            except Exception as e:
                log.warning("health check: %s failed: %s", name, e)
                doc[name] = f"failed: {type(e).__name__}: {str(e)[:200]}"
                doc["status"] = "failing"
        return JSONResponse(doc, status_code=200 if doc["status"] == "ok" else 503)

    try:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from .metrics import ServerMetrics
    except ImportError:
        app.include_router(router)
        return
    metrics = ServerMetrics(driver)
    app.add_middleware(metrics.middleware)  # Starlette calls it with the app it wraps

    @router.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
