"""`POST /sync/{entity}/{project}`: several runs of a project, each with its new segments,
in one request.

A store of many small runs - a sweep, a thousand runs of one 0.7 MB segment each - cost the
server a request per run (POST .../sync, run_sync_routes.py): HTTP, routing, the key and
the permission checks, a hop to a worker thread, the answer. Here one batch body (bodies.py)
carries several runs: each begins with a run frame `{"stream": "run", "name":
"<run id>/run.json", "size": N}` whose bytes are the run's PUT body, followed by that run's
segment frames. Every name is checked as its frame arrives (the run id as a run id, a
segment's name as the single routes check it), write permission on the project before the
body is read, and each run is then stored as POST .../sync stores it: its metadata, then its
segments, each idempotent. The answer has one entry per run frame, in order: POST .../sync's
answer with `run` and `status`, or `run`, `status`, `error` and `message` for a run that was
refused (the others land).
"""

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .batch_routes import with_parts
from .blob_routes import BlobRouter
from .bodies import MEMORY_STREAM, Part
from .check_slots import CheckSlots
from .group_commit import GroupCommit
from .limits import ServerLimits
from .receive import check_names, check_segment_name
from .refused import Refused
from .run_sync_routes import store_with_segments

API = "/api/v1"
#: a run frame's name: the run id, then this
RUN_FILE = "/run.json"


def run_of(name: str) -> str:
    """The run id of a run frame's name `<run id>/run.json` (the id not yet checked)."""
    if not name.endswith(RUN_FILE):
        raise Refused(f"a run frame is named '<run id>{RUN_FILE}', not {name[:100]!r}", "invalid")
    return name[: -len(RUN_FILE)]


def project_sync_router(
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

    @router.post(f"{API}/sync/{{entity}}/{{project}}")
    async def sync_runs(
        entity: str,
        project: str,
        request: Request,
        who: Annotated[str, Depends(user)],
    ) -> JSONResponse:
        """Runs of one project, each its metadata then its sealed segments."""
        access(who, entity, project, write=True)

        def check_name(stream: str, name: str) -> None:
            if stream == MEMORY_STREAM:
                check_names(entity, project, run_of(name))
            else:
                check_segment_name(stream, name)

        held = ExitStack()  # each run's lock, from its write to the commit (upload_hold.py)
        work = partial(_store_runs, store, blobs, ensure_project, (entity, project), limits, held)
        answers = await with_parts(request, store, limits, check_name, work, checks, held)
        request.state.segment_statuses = [  # for /metrics
            r["status"] for a in answers for r in a.get("results", ())
        ]
        return JSONResponse({"runs": answers})

    return router


def _store_runs(
    store: Any,
    blobs: BlobRouter,
    ensure_project: Callable[[str, str], None],
    project: tuple[str, str],
    limits: ServerLimits,
    held: ExitStack,
    parts: list[Part],
    commit: GroupCommit | None,
) -> list[dict[str, Any]]:
    """Each run of `parts` with its segments; one answer per run, in order, all written by
    `commit` (durable together before the request is answered), the runs' file lists in one
    transaction - at the commit's start, out of the check slot, when there is a commit.
    Each run's lock is held, shared, in `held` until the commit is done: no DELETE of the
    run comes between its writes (upload_hold.py)."""
    if not parts or parts[0].stream != MEMORY_STREAM:
        raise Refused(
            f'the first frame must be a run: {{"stream": "run", "name": "<run id>{RUN_FILE}", '
            '"size": N}',
            "invalid",
        )
    starts = [i for i, p in enumerate(parts) if p.stream == MEMORY_STREAM]
    out = []
    later: list[Any] = []  # the runs' file lists, recorded in one transaction
    for i, j in zip(starts, [*starts[1:], len(parts)], strict=True):
        run = parts[i]
        try:
            if run.refused is not None:  # its name, its size, or a full disk
                raise run.refused
            run_id = run_of(run.name)
            target = (*project, run_id)
            held.enter_context(store.uploading(store.paths(*target), creating=True))
            answer, status = store_with_segments(
                store, blobs, ensure_project, target, limits, parts[i:j], commit, later
            )
            answer.update(run=run_id, status=status)
        except Refused as e:
            answer = {"run": run.name[:100], "status": e.status, "error": e.code}
            answer["message"] = str(e)
        out.append(answer)
    if commit is None:
        blobs.blobs.record_files(later)
    else:
        commit.first(partial(blobs.blobs.record_files, later))
    return out
