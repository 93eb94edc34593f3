"""`flightlog server`: the HTTP API (FastAPI on uvicorn) in front of a receiving store.

Every route authenticates a bearer key, validates every name before it becomes a path, and
checks permissions before touching the store. Errors are JSON `{"error": code, "message":
text}` with a 4xx status; the client maps the codes to its own exceptions. The OpenAPI
description is at /openapi.json and the interactive docs at /docs.
"""

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from flightlog import __version__
from flightlog.store.reader import StoredRun

from .accounts import Access, Accounts
from .receive import Invalid, ReceivingStore, check_names, project_dir_name, public_meta

API = "/api/v1"
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024
MAX_META = 16 * 1024 * 1024
#: the run fields a listing gives (plus the summary)
LIST_FIELDS = ("id", "name", "group", "job_type", "tags", "notes", "created_at", "state")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def create_app(root: Path | str, max_upload: int = DEFAULT_MAX_UPLOAD) -> FastAPI:
    """The ASGI app serving the store at `root` (accounts in `root/accounts.sqlite`)."""
    accounts = Accounts(root)
    store = ReceivingStore(root)
    app = FastAPI(
        title="flightlog server",
        version=__version__,
        description="Receives sealed run segments from `flightlog sync` and serves runs.",
    )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.code, "message": e.message}, status_code=e.status)

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, e: Invalid) -> JSONResponse:
        return JSONResponse({"error": e.code, "message": str(e)}, status_code=e.status)

    def user(authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "not_logged_in", "no API key: send 'Authorization: Bearer KEY'")
        name = accounts.user_for_key(authorization[7:].strip())
        if name is None:
            raise ApiError(401, "bad_key", "this API key is not known to the server")
        return name

    User = Annotated[str, Depends(user)]

    def access(who: str, entity: str, project: str, *, write: bool) -> Access:
        check_names(entity, project)
        if accounts.kind(entity) is None:
            raise ApiError(404, "entity_not_found", f"entity {entity!r} does not exist")
        a = accounts.access(who, entity, project)
        if not (a.member if write else a.read):
            raise ApiError(
                403,
                "no_permission",
                f"{who!r} may not {'write to' if write else 'read'} project {entity}/{project}",
            )
        if not write and not a.project_exists:
            raise ApiError(404, "project_not_found", f"no project {entity}/{project}")
        return a

    def load_run(entity: str, project: str, run_id: str) -> StoredRun:
        run = StoredRun.load(store.paths(entity, project, run_id))
        if run is None:
            raise ApiError(404, "run_not_found", f"no run {entity}/{project}/{run_id}")
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
        runs_dir = store.root / "runs" / project_dir_name(entity, project)
        out = []
        for d in sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []:
            run = load_run(entity, project, d.name) if (d / "run.json").exists() else None
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
        a = access(who, entity, project, write=False)
        run = load_run(entity, project, run_id)
        return _json(
            {"meta": public_meta(run.meta, a.member), "state": run.state, "summary": run.summary}
        )

    @app.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}")
    async def put_run(
        entity: str, project: str, run_id: str, request: Request, who: User
    ) -> JSONResponse:
        """Create or update a run: body `{"meta": run.json, "writers": [state, ...]}`."""
        access(who, entity, project, write=True)
        check_names(entity, project, run_id)
        body = await _read_body(request, MAX_META)
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise ApiError(400, "invalid", f"body is not JSON: {e}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
            raise ApiError(400, "invalid", 'body must be {"meta": {...}, "writers": [...]}')
        writers = doc.get("writers") or []
        if not isinstance(writers, list):
            raise ApiError(400, "invalid", '"writers" must be a list of writer states')
        accounts.ensure_project(entity, project)
        new = await run_in_threadpool(store.put_run, entity, project, run_id, doc["meta"], writers)
        return JSONResponse({"created": new}, status_code=201 if new else 200)

    @app.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/segments")
    def list_segments(entity: str, project: str, run_id: str, who: User) -> dict[str, Any]:
        """Names of the sealed segments the server has, per stream (empty if run unknown)."""
        access(who, entity, project, write=False)
        have = store.segments(entity, project, run_id)
        return {"exists": have is not None, "segments": have or {"history": [], "system": []}}

    @app.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/segments/{{stream}}/{{name}}")
    async def put_segment(
        entity: str, project: str, run_id: str, stream: str, name: str, request: Request, who: User
    ) -> JSONResponse:
        """Upload one sealed segment; its name carries its sha256. Idempotent."""
        access(who, entity, project, write=True)
        check_names(entity, project, run_id)
        data = await _read_body(request, max_upload)
        stored = await run_in_threadpool(
            store.put_segment, entity, project, run_id, stream, name, data
        )
        return JSONResponse(
            {"stored": stored, "sha256": hashlib.sha256(data).hexdigest() if stored else None},
            status_code=201 if stored else 200,
        )

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
        access(who, entity, project, write=False)
        if stream not in ("history", "system") or format not in ("json", "arrow"):
            raise ApiError(400, "invalid", "stream is 'history' or 'system'; format 'json'/'arrow'")
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
        raise ApiError(413, "too_large", f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _plain(v: Any) -> Any:
    """Histograms as their dicts (NaN and infinities stay, in Python's JSON extension, as in
    run.json: a diverged loss reads back as the float it was)."""
    to_json = getattr(v, "to_json", None)
    if callable(to_json):
        return {"_type": "histogram", **to_json()}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _json(doc: dict[str, Any]) -> Response:
    return Response(json.dumps(_plain(doc), default=str), media_type="application/json")


def serve(root: Path | str, host: str, port: int, max_upload: int = DEFAULT_MAX_UPLOAD) -> None:
    """Run the server in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(root, max_upload), host=host, port=port, log_level="warning", access_log=False
    )
