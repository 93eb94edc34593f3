"""The server's routes for content-addressed blobs, a run's files and artifact versions.

    POST /api/v1/blobs/{entity}/{project}/missing           which of these the project lacks
    PUT  /api/v1/blobs/{entity}/{project}/{sha256}?size=&offset=   one part of an upload
    GET  /api/v1/blobs/{entity}/{project}/{sha256}          a blob the project holds
    PUT  /api/v1/runs/{entity}/{project}/{run_id}/files     a run's file list (name -> blob)
    GET  /api/v1/runs/{entity}/{project}/{run_id}/files     that list
    GET  /api/v1/runs/{entity}/{project}/{run_id}/files/{name}   one file's content
    PUT  /api/v1/artifacts/{entity}/{project}/{name}        a version's manifest
    POST /api/v1/artifacts/{entity}/{project}/{name}/aliases     aliases given to it later
    GET  /api/v1/artifacts/{entity}/{project}/{name}/{alias}     a version (vN or an alias)

A run PUT (sync/server.py) may carry the run's blobs and file list too (`BlobRouter.run_extras`):
its answer then says which blobs the project lacks, and records the file list when it holds
them all, so an uploader asks no /missing and often sends no /files.

Writes need membership of the project, reads the project's read permission: the same rules
as segments (`access` from sync/server.py). Request memory is bounded as for segments: a
part streams to a temp file (at most --max-upload-mb), lists and manifests are read within
--max-meta-mb, and contents are streamed back from disk.
"""

import mimetypes
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from flightlog.artifacts.names import (
    check_alias,
    check_artifact_name,
    check_entry_path,
    version_number,
)
from flightlog.artifacts.registry import Registry
from flightlog.store.atomic import dumps

from .blob_receive import BlobReceiver, adopt_local_files, blob_list, check_sha, parse_json
from .bodies import body_to_file, read_body
from .db.artifact_table import ArtifactTable
from .db.blob_table import BlobTable
from .db.drivers import Driver
from .limits import ServerLimits
from .objstore import ObjectStore
from .receive import ReceivingStore, project_dir_name, public_files
from .refused import Refused
from .shared_store import SharedStore

API = "/api/v1"
#: blobs in one "which do you lack" question
MISSING_BATCH = 10_000


class BlobRouter(APIRouter):
    """The blob routes, and what a run PUT's blobs and files are answered with."""

    blobs: BlobReceiver

    def run_extras(
        self,
        entity: str,
        project: str,
        run_id: str,
        extras: dict[str, Any],
        later: list[tuple[str, str, str, dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """`{"missing": {sha256: offset}}` for the run's `blobs` (as POST .../missing), and
        `{"files": n}` when its `files` were recorded (every blob they name is held, as PUT
        .../files needs; otherwise the uploader sends them after the blobs). The caller
        checked write access; the run need not be stored yet (a bad list is refused before
        it is). `later`: the file list is checked now and recorded by the caller's
        `blobs.record_files(later)` with its other runs' (BlobReceiver.put_run_files)."""
        out: dict[str, Any] = {}
        missing: dict[str, int] = {}
        held: dict[str, int] = {}  # sizes of the wanted blobs held: the files need them
        if "blobs" in extras:
            wanted = blob_list(extras["blobs"], MISSING_BATCH)
            missing = out["missing"] = self.blobs.missing(entity, project, wanted, held)
        files = extras.get("files")
        if isinstance(files, dict) and not missing:
            named = {e.get("sha256") if isinstance(e, dict) else None for e in files.values()}
            if named <= set(wanted if "blobs" in extras else ()):
                out["files"] = self.blobs.put_run_files(entity, project, run_id, files, later, held)
        return out


def router(
    store: ReceivingStore | SharedStore,
    driver: Driver,
    limits: ServerLimits,
    user: Callable[..., str],
    access: Callable[..., Any],
    ensure_project: Callable[[str, str], None],
) -> BlobRouter:
    """The routes, over the server's store and database; `user` is the key dependency, `access` the
    permission check and `ensure_project` the project creation of sync/server.py (shared, so
    the rules cannot drift apart): a project written to by a blob exists, as by a run."""
    objects, registry = backends(store, driver)
    blobs = BlobReceiver(objects, BlobTable(driver), store.root)
    placing = anyio.CapacityLimiter(limits.concurrent_checks)
    r = BlobRouter()
    r.blobs = blobs
    User = Annotated[str, Depends(user)]

    @r.post(f"{API}/blobs/{{entity}}/{{project}}/missing")
    async def missing(entity: str, project: str, request: Request, who: User) -> Response:
        """Body `{"blobs": [{"sha256", "size"}, ...]}`: `{"missing": {sha256: offset}}`, the
        blobs the project lacks and where each upload resumes."""
        access(who, entity, project, write=True)
        doc = parse_json(await read_body(request, limits.max_meta, limits), "body")
        wanted = blob_list(doc.get("blobs"), MISSING_BATCH)
        lacking = await anyio.to_thread.run_sync(blobs.missing, entity, project, wanted)
        return _json({"missing": lacking})

    @r.put(f"{API}/blobs/{{entity}}/{{project}}/{{sha256}}")
    async def put_part(
        entity: str, project: str, sha256: str, size: int, offset: int, request: Request, who: User
    ) -> JSONResponse:
        """One part of a blob, starting at `offset` of its `size` bytes; the part that
        completes it places the blob (sha256 and size checked). Idempotent."""
        access(who, entity, project, write=True)
        check_sha(sha256)
        if size < 0 or not 0 <= offset <= size:
            raise Refused(f"size {size} and offset {offset}: need 0 <= offset <= size", "invalid")
        tmp, digest = await body_to_file(request, store.uploads, limits)
        try:
            done = await anyio.to_thread.run_sync(
                blobs.put_part, entity, project, sha256, size, offset, tmp, digest, limiter=placing
            )
        finally:
            tmp.unlink(missing_ok=True)
        await anyio.to_thread.run_sync(ensure_project, entity, project)
        return JSONResponse(done, status_code=201 if done["stored"] else 200)

    @r.get(f"{API}/blobs/{{entity}}/{{project}}/{{sha256}}")
    def get_blob(entity: str, project: str, sha256: str, who: User) -> FileResponse:
        """A blob's content, if the project holds it (and the key may read the project)."""
        access(who, entity, project, write=False)
        return FileResponse(
            blobs.path(entity, project, sha256), media_type=_OCTETS, headers=CONTENT_HEADERS
        )

    @r.put(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/files")
    async def put_files(
        entity: str, project: str, run_id: str, request: Request, who: User
    ) -> Response:
        """Body `{"files": {name: {"sha256": ...}}}`: the run's files, uploaded as blobs."""
        access(who, entity, project, run_id, write=True)
        store.require_run(entity, project, run_id)
        doc = parse_json(await read_body(request, limits.max_meta, limits), "body")
        n = await anyio.to_thread.run_sync(
            blobs.put_run_files, entity, project, run_id, doc.get("files")
        )
        return _json({"files": n})

    def run_files(entity: str, project: str, run_id: str, who: User) -> dict[str, Any]:
        """The run's files `who` may read (the git diff: members only), by name."""
        a = access(who, entity, project, run_id, write=False)
        store.require_run(entity, project, run_id)
        return public_files(blobs.run_files(entity, project, run_id), a.member)

    @r.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/files")
    def list_files(entity: str, project: str, run_id: str, who: User) -> Response:
        """`{"files": [{"name", "size", "sha256"}, ...]}`: console log, diff (members only),
        saved files."""
        files = run_files(entity, project, run_id, who)
        return _json({"files": [{"name": n, **e} for n, e in sorted(files.items())]})

    @r.get(f"{API}/runs/{{entity}}/{{project}}/{{run_id}}/files/{{name:path}}")
    def get_file(entity: str, project: str, run_id: str, name: str, who: User) -> FileResponse:
        """One file's content (text types as UTF-8 text, the rest as bytes)."""
        entry = run_files(entity, project, run_id, who).get(name)
        if not isinstance(entry, dict):
            raise Refused(f"run {run_id} has no file {name[:100]!r}", "file_not_found", 404)
        kind = mimetypes.guess_type(name)[0] or _OCTETS
        if kind in _AS_TEXT or name.endswith(
            (".log", ".patch", ".diff", ".txt", ".py", ".md", ".yaml", ".yml")
        ):
            kind = "text/plain; charset=utf-8"
        path = blobs.path(entity, project, str(entry.get("sha256")))
        return FileResponse(path, media_type=kind, headers=CONTENT_HEADERS)

    async def commit(
        entity: str, project: str, name: str, request: Request, who: str, move_latest: bool
    ) -> JSONResponse:
        """Body `{"manifest": {...}, "aliases": [...]}`, its blobs held by the project."""
        access(who, entity, project, write=True)
        _artifact_name(name)
        doc = parse_json(await read_body(request, limits.max_meta, limits), "body")
        manifest = _manifest(blobs, entity, project, doc.get("manifest"))
        aliases = doc.get("aliases") or []
        if not isinstance(aliases, list) or len(aliases) > 100:
            raise Refused('"aliases" must be a list of at most 100 names', "invalid")
        try:
            chosen = [check_alias(str(a)) for a in aliases if a != "latest"]
        except ValueError as e:
            raise Refused(str(e), "invalid_name") from None
        version, created = await anyio.to_thread.run_sync(
            registry.commit, project_dir_name(entity, project), name, manifest, chosen, move_latest
        )
        return JSONResponse(
            {"version": version.version, "digest": version.digest, "created": created},
            status_code=201 if created else 200,
        )

    @r.put(f"{API}/artifacts/{{entity}}/{{project}}/{{name}}")
    async def put_artifact(
        entity: str, project: str, name: str, request: Request, who: User
    ) -> JSONResponse:
        """A version whose blobs the project holds, now `latest`. The same content again is
        the same version (its aliases move to it)."""
        return await commit(entity, project, name, request, who, move_latest=True)

    @r.post(f"{API}/artifacts/{{entity}}/{{project}}/{{name}}/aliases")
    async def alias_artifact(
        entity: str, project: str, name: str, request: Request, who: User
    ) -> JSONResponse:
        """Aliases given to a version after it was pushed (the best checkpoint logged again
        as `best`): as PUT, but `latest` stays where it is (a member only, as any write).
        An older server has no such route (405): the uploader leaves the aliases unsent."""
        return await commit(entity, project, name, request, who, move_latest=False)

    @r.get(f"{API}/artifacts/{{entity}}/{{project}}/{{name}}/{{alias}}")
    def get_artifact(entity: str, project: str, name: str, alias: str, who: User) -> Response:
        """`{"version", "manifest", "aliases"}` of `name:alias` (alias: vN, latest, ...)."""
        access(who, entity, project, write=False)
        _artifact_name(name)
        where = project_dir_name(entity, project)
        try:
            if version_number(alias) is None:
                check_alias(alias)
            version = registry.resolve(where, name, alias)
        except LookupError:
            raise Refused(
                f"no artifact {entity}/{project}/{name}:{alias}", "artifact_not_found", 404
            ) from None
        except ValueError as e:
            raise Refused(str(e), "invalid_name") from None
        aliases = registry.aliases(where, name).get(version.version, [])
        return _json({"version": version.version, "manifest": version.manifest, "aliases": aliases})

    return r


_OCTETS = "application/octet-stream"
#: on every stored content served: a run's files are written by any member of the project,
#: and served from the browser view's origin, to which a logged-in browser sends its session
#: cookie. A page or a drawing (.html, .svg) opened there would run its scripts with the
#: session of whoever opened it; sandboxed, it is shown with no script and no origin of its
#: own, and a browser takes no other type for the one declared
CONTENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "sandbox",
    "X-Content-Type-Options": "nosniff",
}
#: types served as plain text: the browser view's own policy lets this origin's scripts and
#: styles in, so a run's .js or .css must never be one (with nosniff, text is neither)
_AS_TEXT = ("text/javascript", "application/javascript", "text/css")


def backends(
    store: ReceivingStore | SharedStore, driver: Driver
) -> tuple[ObjectStore, Registry | ArtifactTable]:
    """Where blob bytes and artifact versions go: for replicas the shared bucket and
    database, for one server its root (the same keys; artifacts as `flightlog artifact`
    keeps them in a local store, which `flightlog artifact` on the server machine reads)."""
    if isinstance(store, SharedStore):
        return store.objects, ArtifactTable(driver)
    adopt_local_files(store.root, BlobTable(driver))
    return ObjectStore.from_uri(str(store.root)), Registry(store.root)


def _artifact_name(name: str) -> str:
    try:
        return check_artifact_name(name)
    except ValueError as e:
        raise Refused(str(e), "invalid_name") from None


def _manifest(blobs: BlobReceiver, entity: str, project: str, m: Any) -> dict[str, Any]:
    """A client's manifest, rebuilt from the fields the server keeps, each checked; every
    file's blob must be held by the project."""
    if not isinstance(m, dict) or not isinstance(m.get("entries"), dict):
        raise Refused('"manifest" must be {"type", "entries": {...}, ...}', "invalid")
    entries: dict[str, dict[str, Any]] = {}
    for path, e in m["entries"].items():
        try:
            path = check_entry_path(path)
        except ValueError as err:
            raise Refused(str(err), "invalid_name") from None
        if isinstance(e, dict) and isinstance(e.get("ref"), str):
            entries[path] = {"ref": e["ref"][:4096]}
            continue
        sha = str(e.get("sha256") if isinstance(e, dict) else None)
        entries[path] = {
            "sha256": sha,
            "size": blobs.held_size(entity, project, sha, f"entry {path[:100]!r}"),
        }
    logged_by = m.get("logged_by") if isinstance(m.get("logged_by"), dict) else None
    return {
        "name": str(m.get("name") or "")[:128],
        "type": str(m.get("type") or "unspecified")[:128],
        "description": m.get("description") if isinstance(m.get("description"), str) else None,
        "metadata": m.get("metadata") if isinstance(m.get("metadata"), dict) else {},
        "entries": entries,
        "size": sum(e.get("size", 0) for e in entries.values()),
        "logged_by": (
            {"entity": entity, "project": project, "id": str(logged_by.get("id"))[:64]}
            if logged_by
            else None
        ),
    }


def _json(doc: dict[str, Any]) -> Response:
    return Response(dumps(doc, indent=None), media_type="application/json")
