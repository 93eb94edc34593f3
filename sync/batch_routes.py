"""`POST /runs/{entity}/{project}/{run_id}/segments`: many sealed segments in one request.

A run that seals a segment every few seconds has hundreds of small ones; one request each
costs more in round trips, authentication and fsyncs than the bytes do. A batch body carries
them framed (bodies.py: a JSON header line `{"stream", "name", "size"}`, then the bytes), and
each segment is still checked and stored exactly as a single PUT would: its own temp file,
sha256, Parquet check, the idempotent rename. The answer is one result per segment, in
order, by name - `{"results": [{"stream", "name", "status", "stored"[, "error", "message"]}]}`
- so a refused segment is reported and the valid ones next to it land. A malformed body
(a bad frame, cut short, over the size limit) is refused whole and stores nothing. A full
disk stops the batch: what was placed is reported stored, the rest 507.
"""

import errno
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from flightlog.store.atomic import fsync_dir
from flightlog.store.layout import RunPaths

from .bodies import Part, disk_full, remove_parts, segments_to_files, write_parts
from .check_slots import CheckSlots
from .group_commit import GroupCommit
from .limits import ServerLimits
from .receive import STREAMS, ReceivingStore, check_segment_name
from .refused import Refused

API = "/api/v1"
T = TypeVar("T")


def batch_router(
    store: Any,
    user: Callable[..., str],
    access: Callable[..., object],
    limits: ServerLimits,
    checks: CheckSlots,
) -> APIRouter:
    """The batch route over `store` (a ReceivingStore or a replica's SharedStore); `checks`
    bounds the segment checks of every upload route together (limits.concurrent_checks)."""
    router = APIRouter()

    @router.post(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/segments")
    async def put_segments(
        entity: str,
        project: str,
        run_id: str,
        request: Request,
        who: Annotated[str, Depends(user)],
    ) -> JSONResponse:
        """Upload many sealed segments of one run; each is idempotent, each answered."""
        access(who, entity, project, run_id, write=True)
        paths = store.require_run(entity, project, run_id)

        place = partial(place_all, store, paths)
        results = await with_parts(
            request, store, limits, check_segment_name, place, checks, store.uploading(paths)
        )
        request.state.segment_statuses = [r["status"] for r in results]  # for /metrics
        return JSONResponse({"results": results})

    return router


async def with_parts(
    request: Request,
    store: Any,
    limits: ServerLimits,
    check: Callable[[str, str], object],
    work: Callable[[list[Part], GroupCommit | None], T],
    slots: CheckSlots,
    hold: AbstractContextManager[object],
) -> T:
    """Read a batch body (each frame's name checked by `check` first), then in one worker
    thread (check_slots.py) write the frames held in memory and fsync them
    (bodies.write_parts), run `work(parts, commit)` holding a check slot, and commit what it
    wrote; remove the temp files whatever happens: what every batch route does around its
    own work. `commit` is a GroupCommit for a local store (None for a replica's, whose
    placement is durable segment by segment), made durable before the request is answered,
    or abandoned if anything fails. The fsyncs wait for the disk without a check slot: a
    batch of 256 small segments held one ~260 ms for them with no check running, and the
    commit's fsyncs and file-list transaction held one 30-50% of the time a run of the
    1,000-run benchmark store took. Once the body is in, the work is not cancelled (a
    client gone meanwhile): the commit always follows it. `hold`: held around the work and
    its commit (a run's `uploading`: no DELETE of it in between)."""
    parts = await segments_to_files(request, store.uploads, limits, check)
    try:
        with anyio.CancelScope(shield=True):
            return await slots.run(_work_and_commit, store, parts, work, slots, hold)
    finally:
        remove_parts(parts)


def _work_and_commit(
    store: Any,
    parts: list[Part],
    work: Callable[[list[Part], GroupCommit | None], T],
    slots: CheckSlots,
    hold: AbstractContextManager[object],
) -> T:
    write_parts(parts, store.uploads)
    commit = GroupCommit() if isinstance(store, ReceivingStore) else None
    try:
        with hold:
            with slots.checking():
                out = work(parts, commit)
            if commit is not None:
                commit.commit()
    except BaseException:
        if commit is not None:
            commit.abandon()
        raise
    return out


def place_all(
    store: Any, paths: RunPaths, parts: list[Part], commit: GroupCommit | None = None
) -> list[dict[str, Any]]:
    """Check and place each received segment, in order; one result each. On a local store
    the renames are made durable together, one fsync per directory - by `commit` if given
    (the request's, committed by `with_parts` before it answers), else before this returns
    (a replica's placement is durable in its bucket and catalog, segment by segment)."""
    local = isinstance(store, ReceivingStore)
    place = partial(store.place_segment, sync_dir=False) if local else store.place_segment
    touched = {p.stream for p in parts if p.stream in STREAMS}  # if one fails midway
    try:
        results = _place_each(place, paths, parts)
        # only where something was renamed in: a batch sent again renames nothing
        touched = {r["stream"] for r in results if r.get("stored")}
    finally:
        if local:
            for stream in touched:
                if commit is not None:
                    commit.changed(paths.stream(stream))
                else:
                    fsync_dir(paths.stream(stream))
    return results


def _place_each(
    place: Callable[..., bool], paths: RunPaths, parts: list[Part]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    full: Refused | None = None
    for p in parts:
        r: dict[str, Any] = {"stream": p.stream, "name": p.name}
        refused = p.refused or full
        if refused is None:
            assert p.tmp is not None
            try:
                seg = check_segment_name(p.stream, p.name)
                stored = place(paths, p.stream, seg, p.tmp, p.digest, contents=p.data)
                p.data = None
                r.update(status=201 if stored else 200, stored=stored)
            except Refused as e:
                refused = e
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                refused = full = disk_full(e)
        if refused is not None:
            r.update(status=refused.status, stored=False, error=refused.code, message=str(refused))
        out.append(r)
    return out
