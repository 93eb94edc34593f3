"""`GET /api/v1/runs/{entity}/{project}/{run_id}/keys?stream=history`: what a run's history
holds per key, without its values - how many values of each kind each key logged, the
run's rows and its last step (store/history_keys.py, which reads the segments' `step`,
`key` and `kind` columns and the media keys' texts alone, a segment at a time). The rows,
one a writer and step, are counted in DuckDB within the server's read memory, as the other
reads are (sync/run_reads.py `RunReader.rows`): never a structure a step. The Api's
`run.history_keys` and `history_line_count` through `Api(host=)` ask it instead of the whole
history stream.

Who may: whoever may read the run. The counts are JSON of a few values a key:

    200 {"last_step": N, "rows": N, "kinds": [[key, kind, n], ...],
         "media": [[key, media type, n], ...]}
    404 run_not_found
    413 too_large (more than 100,000 keys, or counting the rows needs more than
        --read-memory-mb, spilled to disk)
"""
# (no `from __future__ import annotations`: FastAPI reads the route's Annotated dependency
# when the route is made, and `user` is a local of run_keys_router)

from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from flightlog.store.history_keys import TooManyKeys, key_counts

from .limits import ServerLimits
from .refused import Refused
from .run_reads import RunReader, load_run

API = "/api/v1"


def run_keys_router(
    store: Any,
    user: Callable[..., str],
    access: Callable[..., object],
    reads: anyio.CapacityLimiter,
    limits: ServerLimits,
) -> APIRouter:
    """The route over `store`; `user`, `access`, the `reads` limiter and `limits` as
    server.create_app gives them."""
    router = APIRouter()

    @router.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/keys")
    async def keys(
        entity: str,
        project: str,
        run_id: str,
        who: Annotated[str, Depends(user)],
        stream: str = "history",
    ) -> JSONResponse:
        """The run's values per key and kind, rows and last step (the module's docstring)."""
        access(who, entity, project, run_id, write=False)
        counted = await anyio.to_thread.run_sync(
            _counted, store, limits, entity, project, run_id, stream, limiter=reads
        )
        return JSONResponse(counted)

    return router


def _counted(
    store: Any, limits: ServerLimits, entity: str, project: str, run_id: str, stream: str
) -> dict[str, Any]:
    run = load_run(store, entity, project, run_id, stream)  # the stream checked first
    try:
        counts = key_counts(run.paths.stream(stream), rows=False, most_keys=limits.counted_keys)
    except TooManyKeys as e:
        raise Refused(str(e), "too_large", 413) from None
    counts.counted_rows(RunReader(run.paths, stream, limits, store.uploads).rows())
    return counts.answer()
