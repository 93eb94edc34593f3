"""`POST /runs/{entity}/{project}/{run_id}/sync`: a run's metadata and its new segments in
one request.

Syncing a run that seals a segment now and then used to take two requests - the run's PUT,
then its segments - and the server's per-request work (routing, authentication, the access
check, the answer) costs more CPU than a small run's bytes do. Here the body is a batch body
(bodies.py, as for POST .../segments) whose first frame is the run's PUT body:
`{"stream": "run", "name": "run.json", "size": N}` then `{"meta", "writers"[, "blobs",
"files"]}`. The server does what the PUT does - the blob answer, run.json and the writers'
states, the project - then places each segment as the batch route does, and answers with
both: `{"created", "segments": what it has now, "missing", "files", "results": [...]}`.
The client sends only segments it believes the server lacks (never synced there, or not in
its sync mark); one the server had after all is answered "already stored" and costs only
its bytes.
"""

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .batch_routes import place_all, with_parts
from .blob_routes import BlobRouter
from .bodies import Part
from .check_slots import CheckSlots
from .group_commit import GroupCommit
from .limits import ServerLimits
from .receive import check_segment_name, parse_meta_body, stored_segments
from .refused import Refused

API = "/api/v1"
#: the first frame's stream and name: the run's PUT body
RUN_FRAME = ("run", "run.json")


def store_run(
    store: Any,
    blobs: BlobRouter,
    ensure_project: Callable[[str, str], None],
    target: tuple[str, str, str],
    body: bytes,
    limits: ServerLimits,
    commit: GroupCommit | None = None,
    later: list[Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """What PUT /runs/E/P/ID does with its body (the caller checked write access): the
    answer (`created`, `segments` and the blob answer) and its status (201 when new).
    `commit`: the request's (a local store's), which makes run.json durable with the rest;
    `later`: the request's file lists, recorded together by the caller (BlobRouter.run_extras).
    Blocking: run it off the event loop."""
    entity, project, run_id = target
    meta, writers, extras = parse_meta_body(body, limits)
    answer = blobs.run_extras(entity, project, run_id, extras, later)  # checked before any write
    if commit is None:
        new = store.put_run(entity, project, run_id, meta, writers)
        have = store.segments(entity, project, run_id)
    else:  # run.json is renamed in by the commit: listed without it
        new = store.put_run(entity, project, run_id, meta, writers, commit=commit)
        have = stored_segments(store.paths(entity, project, run_id))
    ensure_project(entity, project)
    # what it has of the run: the uploader needs no GET of /segments
    answer.update(created=new, segments=have)
    return answer, 201 if new else 200


def run_sync_router(
    store: Any,
    user: Callable[..., str],
    access: Callable[..., object],
    limits: ServerLimits,
    ensure_project: Callable[[str, str], None],
    blobs: BlobRouter,
    checks: CheckSlots,
) -> APIRouter:
    """The route over `store` (a ReceivingStore or a replica's SharedStore), its checks
    under `checks` (shared by every upload route)."""
    router = APIRouter()

    def check_name(stream: str, name: str) -> None:
        if (stream, name) != RUN_FRAME:
            check_segment_name(stream, name)

    @router.post(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/sync")
    async def sync_run(
        entity: str,
        project: str,
        run_id: str,
        request: Request,
        who: Annotated[str, Depends(user)],
    ) -> JSONResponse:
        """A run's metadata, then any of its sealed segments; each segment idempotent."""
        access(who, entity, project, run_id, write=True)
        target = (entity, project, run_id)
        work = partial(_store_all, store, blobs, ensure_project, target, limits)
        hold = store.uploading(store.paths(*target), creating=True)  # no DELETE midway
        answer, status = await with_parts(request, store, limits, check_name, work, checks, hold)
        results = answer["results"]
        request.state.segment_statuses = [r["status"] for r in results]  # for /metrics
        return JSONResponse(answer, status_code=status)

    return router


def _store_all(
    store: Any,
    blobs: BlobRouter,
    ensure_project: Callable[[str, str], None],
    target: tuple[str, str, str],
    limits: ServerLimits,
    parts: list[Part],
    commit: GroupCommit | None,
) -> tuple[dict[str, Any], int]:
    """The run, then its segments, in one trip off the event loop, written by `commit`."""
    if not parts or (parts[0].stream, parts[0].name) != RUN_FRAME:
        raise Refused(
            'the first frame must be the run: {"stream": "run", "name": "run.json", ...}',
            "invalid",
        )
    if any((p.stream, p.name) == RUN_FRAME for p in parts[1:]):
        raise Refused("only the first frame may be the run", "invalid")
    return store_with_segments(store, blobs, ensure_project, target, limits, parts, commit)


def store_with_segments(
    store: Any,
    blobs: BlobRouter,
    ensure_project: Callable[[str, str], None],
    target: tuple[str, str, str],
    limits: ServerLimits,
    parts: list[Part],
    commit: GroupCommit | None = None,
    later: list[Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """`parts[0]` a run's PUT body, the rest its segments (the caller checked which is
    which): the run PUT's answer with `results` (and `segments` as they are after the
    placing), and its status. Written by `commit` (batch_routes.with_parts); the run's file
    list set aside in `later` if given (store_run). Blocking."""
    if parts[0].refused is not None:  # as it arrived: over max_meta, or a full disk
        raise parts[0].refused
    body = parts[0].body()
    answer, status = store_run(store, blobs, ensure_project, target, body, limits, commit, later)
    results = place_all(store, store.paths(*target), parts[1:], commit)
    have = answer["segments"]  # listed before the placing: add what it placed
    for r in results:
        if r.get("stored"):
            have[r["stream"]] = sorted({*have[r["stream"]], r["name"]})
    answer["results"] = results
    return answer, status
