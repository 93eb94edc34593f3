"""What the run screen of a remote UI reads, in one request each, next to the server's store.

    GET /api/v1/runs/{entity}/{project}/{id}/view?x=step&buckets=240&lo=&hi=
        {"run": RUN (runs_api.py), "meta": run.json as the caller may see it,
         "buckets": [BUCKET, ...] over the whole run, "zoomed": [BUCKET, ...] over x in
         [lo, hi] or null, "skipped": [unreadable segment, ...]}
        BUCKET = {"key", "bucket", "x_min", "x_max", "vmin", "vmax", "vlast", "last_text",
                  "n"}: store.query.downsample's rows, as the local run screen draws them
    GET /api/v1/runs/{entity}/{project}/{id}/cursor?keys=a,b&key=NAME&at=STEP&x=step&window=
        {"values": [{"key", "x", "step", "time", "value"}, ...]}: the stored value nearest
        the chart cursor per key (store.query.values_at)

The view carries an ETag (a running run's view changes as segments arrive; a finished one
is a 304).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response

from flightlog.store.atomic import dumps
from flightlog.store.catalog import select_runs
from flightlog.store.layout import run_key
from flightlog.store.reader import StoredRun

from .accounts import Access
from .limits import ServerLimits
from .receive import ReceivingStore, Refused, public_meta
from .run_objects import run_items, with_etag
from .run_reads import RunReader, load_run
from .server_index import ServerIndex


def views_router(
    store: ReceivingStore,
    index: ServerIndex,
    user: Callable[..., str],
    access: Callable[..., Access],
    limits: ServerLimits,
) -> APIRouter:
    router = APIRouter()  # included by runs_api's router, under its /api/v1
    reads = anyio.CapacityLimiter(limits.concurrent_reads)

    def reader(entity: str, project: str, run_id: str) -> tuple[StoredRun, RunReader]:
        """The run as the store has it now: on a replica, its cache brought up to date from
        the catalog first (a run synced or grown through another replica)."""
        run = load_run(store, entity, project, run_id, "history")
        created = run.meta.get("created_at")
        start = float(created) if isinstance(created, int | float) else 0.0
        return run, RunReader(run.paths, "history", limits, store.uploads, start)

    def check_buckets(buckets: int) -> None:
        if not 1 <= buckets <= limits.chart_buckets:
            raise Refused(f"buckets must be between 1 and {limits.chart_buckets}")

    @router.get("/runs/{entity}/{project}/{run_id}/view")
    async def view(
        entity: str,
        project: str,
        run_id: str,
        who: str = Depends(user),
        x: str = "step",
        buckets: int = 240,
        lo: float | None = None,
        hi: float | None = None,
        if_none_match: str | None = Header(None),
        accept_encoding: str | None = Header(None),
    ) -> Response:
        """Everything a run screen shows (see the module's docstring)."""
        a = access(who, entity, project, run_id, write=False)
        check_buckets(buckets)
        if len(x) > limits.query_chars:
            raise Refused(f"x is {len(x)} characters; at most {limits.query_chars}")

        def work() -> bytes:
            run, r = reader(entity, project, run_id)
            idx = index.current()
            found = select_runs(idx, run_keys=[run_key(project, run_id, entity)])
            if not found:
                raise Refused(f"no run {entity}/{project}/{run_id}", "run_not_found", 404)
            whole = r.chart(None, buckets, x)
            zoomed = None
            if lo is not None and hi is not None:
                zoomed = r.chart(None, buckets, x, (lo, hi))
            doc: dict[str, Any] = {
                "run": run_items(idx, found, {entity} if a.member else set())[0],
                "meta": public_meta(run.meta, a.member),
                "buckets": whole.drop_columns(["run_key"]).to_pylist(),
                "zoomed": (
                    None if zoomed is None else zoomed.drop_columns(["run_key"]).to_pylist()
                ),
                "skipped": r.skipped,
            }
            return dumps(doc, indent=None)

        return with_etag(
            await anyio.to_thread.run_sync(work, limiter=reads), if_none_match, accept_encoding
        )

    @router.get("/runs/{entity}/{project}/{run_id}/cursor")
    async def cursor(
        entity: str,
        project: str,
        run_id: str,
        at: float,
        keys: str = "",
        key: Annotated[list[str] | None, Query()] = None,
        who: str = Depends(user),
        x: str = "step",
        window: float | None = None,
    ) -> Response:
        """The stored values nearest a chart's cursor (see the module's docstring)."""
        access(who, entity, project, run_id, write=False)
        if not math.isfinite(at) or (window is not None and not math.isfinite(window)):
            raise Refused(f"at and window must be finite numbers, not {at} and {window}")
        wanted = limits.metric_names(keys, key) or []

        def work() -> bytes:
            _, r = reader(entity, project, run_id)
            table = r.cursor(wanted, at, x, window)
            return dumps({"values": table.drop_columns(["run_key"]).to_pylist()}, indent=None)

        return Response(
            await anyio.to_thread.run_sync(work, limiter=reads), media_type="application/json"
        )

    return router
