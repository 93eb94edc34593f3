"""`flightlog server`: the HTTP API (FastAPI on uvicorn) in front of a receiving store.

Every route authenticates a bearer key, validates every name before it becomes a path, and
checks permissions before touching the store. Errors are JSON `{"error": code, "message":
text}` with a 4xx status; the client maps the codes to its own exceptions. The OpenAPI
description is at /openapi.json and the interactive docs at /docs.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from flightlog import __version__
from flightlog.store.atomic import dumps
from flightlog.store.layout import iter_run_dirs
from flightlog.store.reader import StoredRun

from .accounts import Access, Accounts
from .receive import STREAMS, ReceivingStore, Refused, check_names, project_dir_name, public_meta

API = "/api/v1"
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024
MAX_META = 16 * 1024 * 1024
#: the run.json fields a listing gives (plus state and summary)
LIST_FIELDS = ("id", "name", "group", "job_type", "tags", "notes", "created_at")


def create_app(root: Path | str, max_upload: int = DEFAULT_MAX_UPLOAD) -> FastAPI:
    """The ASGI app serving the store at `root` (accounts in `root/accounts.sqlite`)."""
    accounts = Accounts(root)
    store = ReceivingStore(root)
    app = FastAPI(
        title="flightlog server",
        version=__version__,
        description="Receives sealed run segments from `flightlog sync` and serves runs.",
    )

    @app.exception_handler(Refused)
    async def _refused(request: Request, e: Refused) -> JSONResponse:
        return JSONResponse({"error": e.code, "message": str(e)}, status_code=e.status)

    def user(authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise Refused("no API key: send 'Authorization: Bearer KEY'", "not_logged_in", 401)
        name = accounts.user_for_key(authorization[7:].strip())
        if name is None:
            raise Refused("this API key is not known to the server", "bad_key", 401)
        return name

    User = Annotated[str, Depends(user)]

    def access(
        who: str, entity: str, project: str, run_id: str | None = None, *, write: bool
    ) -> Access:
        """Names valid, entity existing, permission given - before anything else happens."""
        check_names(entity, project, run_id)
        if accounts.kind(entity) is None:
            raise Refused(f"entity {entity!r} does not exist", "entity_not_found", 404)
        a = accounts.access(who, entity, project)
        if not (a.member if write else a.read):
            raise Refused(
                f"{who!r} may not {'write to' if write else 'read'} project {entity}/{project}",
                "no_permission",
                403,
            )
        if not write and not a.project_exists:
            raise Refused(f"no project {entity}/{project}", "project_not_found", 404)
        return a

    def load_run(entity: str, project: str, run_id: str) -> StoredRun:
        run = StoredRun.load(store.paths(entity, project, run_id))
        if run is None:
            raise Refused(f"no run {entity}/{project}/{run_id}", "run_not_found", 404)
        return run

    @app.get(f"{API}/whoami")
    def whoami(who: User) -> dict[str, Any]:
        """The key's user and the entities it may write to."""
        teams = accounts.teams_of(who)
        return {"user": who, "teams": teams, "entities": [who, *teams]}

    @app.get(f"{API}/runs/{{entity}}/{{project}}")
    def list_runs(entity: str, project: str, who: User) -> dict[str, Any]:
        """The runs of a project, with their summaries."""
        a = access(who, entity, project, write=False)
        out = []
        runs = iter_run_dirs(store.root, project_dir_name(entity, project))
        for paths in sorted(runs, key=lambda p: p.dir.name):
            run = StoredRun.load(paths)
            if run is None:
                continue
            item = {k: run.meta.get(k) for k in LIST_FIELDS}
            item["state"] = run.state
            item["summary"] = run.summary
            if a.member:
                item["git"] = run.git
            out.append(item)
        return _json({"entity": entity, "project": project, "runs": out})

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    def get_run(entity: str, project: str, run_id: str, who: User) -> Response:
        """A run's metadata (git and the command for members only), state and summary."""
        a = access(who, entity, project, run_id, write=False)
        run = load_run(entity, project, run_id)
        return _json(
            {"meta": public_meta(run.meta, a.member), "state": run.state, "summary": run.summary}
        )

    @app.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    async def put_run(
        entity: str, project: str, run_id: str, request: Request, who: User
    ) -> JSONResponse:
        """Create or update a run: body `{"meta": run.json, "writers": [state, ...]}`."""
        access(who, entity, project, run_id, write=True)
        body = await _read_body(request, MAX_META)
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise Refused(f"body is not JSON: {e}", "invalid", 400) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
            raise Refused('body must be {"meta": {...}, "writers": [...]}', "invalid", 400)
        writers = doc.get("writers") or []
        if not isinstance(writers, list):
            raise Refused('"writers" must be a list of writer states', "invalid", 400)
        accounts.ensure_project(entity, project)
        new = await run_in_threadpool(store.put_run, entity, project, run_id, doc["meta"], writers)
        return JSONResponse({"created": new}, status_code=201 if new else 200)

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
        data = await _read_body(request, max_upload)
        stored = await run_in_threadpool(
            store.put_segment, entity, project, run_id, stream, name, data
        )
        return JSONResponse({"stored": stored}, status_code=201 if stored else 200)

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/history")
    def history(
        entity: str,
        project: str,
        run_id: str,
        who: User,
        keys: str | None = None,
        stream: str = "history",
        format: str = "json",
    ) -> Response:
        """Logged rows: JSON `{"rows": [...]}` (exact values) or `format=arrow` (tidy table)."""
        access(who, entity, project, run_id, write=False)
        if stream not in STREAMS or format not in ("json", "arrow"):
            raise Refused("stream is 'history' or 'system'; format 'json'/'arrow'", "invalid", 400)
        run = load_run(entity, project, run_id)
        wanted = keys.split(",") if keys else None
        if format == "arrow":
            sink = pa.BufferOutputStream()
            table = run.tidy(wanted, stream)
            with pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
            return Response(
                sink.getvalue().to_pybytes(), media_type="application/vnd.apache.arrow.stream"
            )
        return _json({"rows": list(run.scan_history(wanted, stream))})

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(f"body of {declared} bytes exceeds the limit of {limit}", "too_large", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(f"body exceeds the limit of {limit} bytes", "too_large", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _json(doc: dict[str, Any]) -> Response:
    """JSON as run.json is written: NaN kept (Python's extension), histograms as dicts."""
    return Response(dumps(doc, indent=None), media_type="application/json")


def serve(root: Path | str, host: str, port: int, max_upload: int = DEFAULT_MAX_UPLOAD) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(root, max_upload), host=host, port=port, log_level="warning", access_log=False
    )
