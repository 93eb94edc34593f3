"""`flightlog server`: the HTTP API (FastAPI on uvicorn) in front of a receiving store.

Every route authenticates a bearer key, validates every name before it becomes a path, and
checks permissions before touching the store. Every request is bounded (`limits.py`): bodies
by size and time, queries by length, answers by pages or streams, and reads and segment
checks by how many run at once. Errors are JSON `{"error": code, "message": text}` - a 4xx
for a refusal, 507 when the disk is full, 500 for a bug - and the client maps the codes to
its own exceptions. The OpenAPI description is at /openapi.json, a page of the routes at /docs
(api_docs.py: nothing the server serves loads from the internet).
"""

import errno
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flightlog import __version__
from flightlog.store.atomic import dumps

from . import blob_routes
from .access_log import AccessLog
from .accounts import Access, Accounts
from .api_docs import install_api_docs
from .batch_routes import batch_router
from .bodies import body_to_file, read_body
from .check_slots import CheckSlots
from .db.catalog import Catalog
from .db.drivers import BUSY_TIMEOUT
from .limits import ServerLimits
from .ops import install_ops
from .project_sync_routes import project_sync_router
from .receive import (
    Refused,
    check_names,
    check_segment_name,
    public_meta,
)
from .run_delete_routes import run_delete_router
from .run_keys_routes import run_keys_router
from .run_reads import RunReader, decode_cursor, load_run
from .run_sync_routes import run_sync_router, store_run
from .runs_api import runs_router
from .sessions import Sessions
from .shared_store import open_store
from .upload_hold import place_held
from .web_routes import web_router

API = "/api/v1"
log = logging.getLogger("flightlog.server")
T = TypeVar("T")


def create_app(
    root: Path | str,
    limits: ServerLimits | None = None,
    *,
    db: str | None = None,
    store_uri: str | None = None,
    pool: int = 8,
) -> FastAPI:
    """The ASGI app serving the store at `root` (accounts in `root/accounts.sqlite`), or with
    `db` and `store_uri` a replica on a shared database and object store (shared_store.py)."""
    limits = limits or ServerLimits()
    accounts = Accounts(root, db, pool=pool)
    store = open_store(root, limits, store_uri, Catalog(accounts.driver))  # checks --store
    sessions = Sessions(accounts)
    reads = anyio.CapacityLimiter(limits.concurrent_reads)
    checks = CheckSlots(limits.concurrent_checks)
    app = FastAPI(  # no Swagger UI nor ReDoc: both need a CDN (api_docs.py)
        title="flightlog server",
        version=__version__,
        description="Receives sealed run segments from `flightlog sync` and serves runs.",
        docs_url=None,
        redoc_url=None,
    )
    install_ops(app, accounts.driver, store)
    install_api_docs(app)

    @app.exception_handler(Refused)
    async def _refused(request: Request, e: Refused) -> JSONResponse:
        return _error(e.status, e.code, str(e))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "invalid")
        return _error(e.status_code, code, f"{request.method} {request.url.path}: {e.detail}")

    @app.exception_handler(RequestValidationError)
    async def _bad_params(request: Request, e: RequestValidationError) -> JSONResponse:
        where = "; ".join(
            f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in e.errors()[:5]
        )
        return _error(400, "invalid", f"invalid request parameters: {where}"[:500])

    def _full(e: Exception) -> JSONResponse:
        log.error("disk full: %s", e)
        return _error(
            507,
            "insufficient_storage",
            "the server's disk is full: nothing was stored by this request; the data "
            "stays with the client, sync again later",
        )

    @app.exception_handler(OSError)
    async def _os_error(request: Request, e: OSError) -> JSONResponse:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return _full(e)
        log.exception("I/O error on %s %s", request.method, request.url.path)
        return _error(500, "internal", f"the server failed to read or write its store: {e}")

    def _not_a_bug(request: Request, e: Exception) -> JSONResponse | None:
        """The answer to a database error that is no bug, else None."""
        # a database's full disk is no OSError: SQLite's SQLITE_FULL, PostgreSQL's disk_full
        if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            getattr(e, "sqlstate", None) == "53100"
        ):
            return _full(e)
        if _busy(e):
            log.warning("database busy on %s %s: %s", request.method, request.url.path, e)
            return _error(
                503,
                "database_busy",
                f"the server's database stayed locked or out of connections for {BUSY_TIMEOUT:g} "
                "s (another process holds it: an admin command, a backup): try again shortly",
            )
        return None

    @app.exception_handler(sqlite3.Error)
    async def _sqlite(request: Request, e: sqlite3.Error) -> JSONResponse:
        """SQLite's lock or full disk answered here, in Starlette's ExceptionMiddleware: the
        handler of Exception below runs in its ServerErrorMiddleware, which answers and then
        raises the error again for uvicorn to log as a bug, traceback and all."""
        answer = _not_a_bug(request, e)
        if answer is None:
            raise e  # a bug: to `_bug`
        return answer

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        answer = _not_a_bug(request, e)  # PostgreSQL's (psycopg is imported only with --db)
        if answer is not None:
            return answer
        log.exception("error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "the server failed; its log says why")

    def user(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
        name = None if authorization else sessions.user_of_request(request)  # reads only
        if name is None:
            if not authorization or not authorization.startswith("Bearer "):
                raise Refused("no API key: send 'Authorization: Bearer KEY'", "not_logged_in", 401)
            name = accounts.user_for_key(authorization[7:].strip()[:256])
            if name is None:
                raise Refused("this API key is not known to the server", "bad_key", 401)
        request.state.user = name  # for the access log
        return name

    User = Annotated[str, Depends(user)]

    async def user_now(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> str:
        """`user` on the event loop, as `access` runs: an upload request's key lookup (one
        indexed query) no longer costs a hop to a worker thread of its own, which cost the
        event loop more than the query (check_slots.py)."""
        return user(request, authorization)

    def access(
        who: str, entity: str, project: str, run_id: str | None = None, *, write: bool
    ) -> Access:
        """Names valid, entity existing, permission given - before anything else happens."""
        check_names(entity, project, run_id)
        if accounts.kind(entity) is None:
            raise Refused(f"entity {entity!r} does not exist", "entity_not_found", 404)
        a = accounts.access(who, entity, project)
        if write and not a.member:
            raise Refused(no_write_permission(who, entity, project, accounts), "no_permission", 403)
        if not write and not (a.read and a.project_exists):  # private: not there for others
            raise Refused(f"no project {entity}/{project}", "project_not_found", 404)
        return a

    made: set[tuple[str, str]] = set()  # projects known to exist: no database write per run

    def ensure_project(entity: str, project: str) -> None:
        if (entity, project) not in made:  # projects are never removed
            accounts.ensure_project(entity, project)
            made.add((entity, project))

    def reader(entity: str, project: str, run_id: str, stream: str) -> RunReader:
        run = load_run(store, entity, project, run_id, stream)
        created = run.meta.get("created_at")
        return RunReader(
            run.paths,
            stream,
            limits,
            store.uploads,
            float(created) if isinstance(created, int | float) else 0.0,
        )

    def in_range(name: str, value: int, low: int, high: int) -> int:
        if not low <= value <= high:
            raise Refused(f"{name} must be between {low} and {high}, not {value}", "invalid")
        return value

    async def limited(limiter: anyio.CapacityLimiter, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    @app.get(f"{API}/whoami")
    def whoami(who: User) -> dict[str, Any]:
        """The key's user and the entities it may write to."""
        teams = accounts.teams_of(who)
        return {"user": who, "teams": teams, "entities": [who, *teams]}

    app.include_router(runs_router(store, accounts, user, access, limits))
    app.include_router(batch_router(store, user_now, access, limits, checks))

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    def get_run(entity: str, project: str, run_id: str, who: User) -> Response:
        """A run's metadata (git and the command for members only), state and summary."""
        a = access(who, entity, project, run_id, write=False)
        run = load_run(store, entity, project, run_id)
        return _json(
            {"meta": public_meta(run.meta, a.member), "state": run.state, "summary": run.summary}
        )

    @app.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    async def put_run(
        entity: str, project: str, run_id: str, request: Request, who: User
    ) -> JSONResponse:
        """Create or update a run: body `{"meta": run.json, "writers": [state, ...]}`."""
        access(who, entity, project, run_id, write=True)
        body = await read_body(request, limits.max_meta, limits)
        answer, status = await anyio.to_thread.run_sync(
            store_run, store, blobs, ensure_project, (entity, project, run_id), body, limits
        )
        return JSONResponse(answer, status_code=status)

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/segments")
    def list_segments(entity: str, project: str, run_id: str, who: User) -> dict[str, Any]:
        """Names of the sealed segments the server has, per stream (empty if run unknown)."""
        access(who, entity, project, run_id, write=False)
        have = store.segments(entity, project, run_id)
        return {"exists": have is not None, "segments": have or {"history": [], "system": []}}

    @app.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/segments/{{stream}}/{{name}}")
    async def put_segment(
        entity: str, project: str, run_id: str, stream: str, name: str, request: Request, who: User
    ) -> JSONResponse:
        """Upload one sealed segment; its name carries its sha256. Idempotent."""
        access(who, entity, project, run_id, write=True)
        seg = check_segment_name(stream, name)
        paths = store.require_run(entity, project, run_id)
        tmp, digest = await body_to_file(request, store.uploads, limits)
        try:
            stored = await checks.run(
                checks.checked, place_held, store, paths, stream, seg, tmp, digest
            )
        finally:
            tmp.unlink(missing_ok=True)
        return JSONResponse({"stored": stored}, status_code=201 if stored else 200)

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/history")
    async def history(
        entity: str,
        project: str,
        run_id: str,
        who: User,
        keys: str | None = None,
        key: Annotated[list[str] | None, Query()] = None,
        stream: str = "history",
        format: str = "json",
        limit: int = 1000,
        cursor: str | None = None,
    ) -> Response:
        """Logged values (of the metrics `keys`, comma-separated, and each `key`: every one if
        neither). JSON: a page `{"rows", "next", "skipped"}` of at most `limit` values (pass
        `next` back as `cursor`). `format=arrow`: the tidy table, streamed whole."""
        access(who, entity, project, run_id, write=False)
        if format not in ("json", "arrow"):
            raise Refused("format is 'json' or 'arrow'", "invalid")
        wanted = limits.metric_names(keys, key)
        in_range("limit", limit, 1, limits.page_rows)
        after = decode_cursor(limits.bounded("cursor", cursor)) if cursor else None
        r = await anyio.to_thread.run_sync(reader, entity, project, run_id, stream)
        if format == "arrow":
            return StreamingResponse(
                r.arrow_stream(wanted), media_type="application/vnd.apache.arrow.stream"
            )
        rows, nxt = await limited(reads, r.page, wanted, after, limit)
        return _json({"rows": rows, "next": nxt, "skipped": r.skipped})

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/chart")
    async def chart(
        entity: str,
        project: str,
        run_id: str,
        who: User,
        keys: str | None = None,
        key: Annotated[list[str] | None, Query()] = None,
        buckets: int = 500,
        x: str = "step",
        stream: str = "history",
        lo: float | None = None,
        hi: float | None = None,
    ) -> Response:
        """Per key (every key when `keys` is not given), `buckets` buckets along x (step, time
        or metric:KEY), over the whole run or x in [lo, hi] (a zoomed chart): x range, min,
        max, last and count - what a chart draws, computed in DuckDB, never every row."""
        access(who, entity, project, run_id, write=False)
        wanted = limits.metric_names(keys, key)
        in_range("buckets", buckets, 1, limits.chart_buckets)
        x_range = (lo, hi) if lo is not None and hi is not None else None
        r = await anyio.to_thread.run_sync(reader, entity, project, run_id, stream)
        table = await limited(reads, r.chart, wanted, buckets, limits.bounded("x", x), x_range)
        return _json({"buckets": table.drop_columns(["run_key"]).to_pylist(), "skipped": r.skipped})

    blobs = blob_routes.router(store, accounts.driver, limits, user, access, ensure_project)
    app.include_router(blobs)
    app.include_router(
        run_sync_router(store, user_now, access, limits, ensure_project, blobs, checks)
    )
    app.include_router(run_delete_router(store, user, access))
    app.include_router(run_keys_router(store, user, access, reads, limits))
    app.include_router(
        project_sync_router(store, user_now, access, limits, ensure_project, blobs, checks)
    )
    app.include_router(web_router(sessions, limits))
    app.add_middleware(AccessLog)
    return app


def no_write_permission(who: str, entity: str, project: str, accounts: Accounts) -> str:
    """Why `who` may not write to entity/project, and the change that lets them: only
    membership grants writing (an open project is open for reading only)."""
    if accounts.kind(entity) == "team":
        fix = (
            f"writing takes membership of team {entity!r}: the server's admin runs "
            f"`flightlog server team add {entity} --member {who}`"
        )
    else:
        fix = (
            f"{entity!r} is another user: sync to your own entity ({who!r}) or to a team you "
            "belong to (init(entity=...) or FLIGHTLOG_ENTITY)"
        )
    return f"{who!r} may not write to project {entity}/{project}: {fix}"


def _busy(e: Exception) -> bool:
    """A database that did not let this request in within BUSY_TIMEOUT: SQLite's lock held by
    another process, or no PostgreSQL connection free in the pool - not a bug, and a retry
    later succeeds (clients retry a 503)."""
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True  # (extended codes, such as SQLITE_BUSY_SNAPSHOT, keep the primary's low byte)
    return type(e).__name__ == "PoolTimeout"  # psycopg_pool's (not imported without --db)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _json(doc: dict[str, Any]) -> Response:
    """JSON as run.json is written: NaN kept (Python's extension), histograms as dicts."""
    return Response(dumps(doc, indent=None), media_type="application/json")
