"""The receiving end's store: what the server writes, in the ordinary store format.

A server root is a flightlog store, so `flightlog tui/runs/sql --root DIR` work on it. A
project P of entity E is the directory `runs/@E/P/` (store/layout.py): entity and project
are separate levels, as every local tool shows them. Earlier versions kept it in `runs/E.P/`
(entity names never contain '.'); the server moves such directories to `runs/@E/P/` when it
starts (`migrate_joined_projects`), and local readers read both. Every name is validated
before it becomes part of a path. A segment arrives in a temp file under `.uploads/` and is
checked there (name, sha256, Parquet footer within limits, schema, every value) before it is
renamed into place, so a refused upload leaves nothing behind and a stored one always reads
back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from flightlog.store.arrow_owned import Bytes
from flightlog.store.atomic import dumps, fsync_dir
from flightlog.store.layout import (
    ENTITY_MARK,
    RunPaths,
    SegmentName,
    check_name,
    check_run_id,
    iter_run_dirs,
    parse_segment_name,
    project_dir,
    run_key,
    sealed_segment_name,
)
from flightlog.store.run_ledger import append_created
from flightlog.store.segments import list_segments

from .accounts import check_entity
from .group_commit import GroupCommit
from .limits import ServerLimits
from .new_dirs import NewDirs
from .refused import Refused, run_missing
from .seal_growth import grown
from .sealed_names import SealedNames
from .segment_check import check_segment_file
from .upload_hold import upload_held
from .writer_states import not_behind, run_json_behind, stored_states

__all__ = [
    "ReceivingStore",
    "Refused",
    "check_names",
    "migrate_joined_projects",
    "public_files",
    "public_meta",
]

STREAMS = ("history", "system")
UPLOADS = ".uploads"
_WRITER_RE = re.compile(r"^[a-z0-9]{1,32}$")
#: run.json fields shown to project members only (the seed: "visible to members only")
MEMBER_ONLY_FIELDS = ("git", "command", "program", "cwd")
#: a run's files shown to members only: the dirty diff of its git work tree, which
#: flightlog/_context.py capture_git saves as a run file (run.json's git.diff names it)
MEMBER_ONLY_FILES = ("diff.patch",)


def migrate_joined_projects(root: Path) -> list[str]:
    """Move each `runs/E.P/` of an earlier version to `runs/@E/P/`, run by run (a rename
    each: an interrupted migration finishes on the next start). Only directories whose runs'
    run.json say entity E and project P move: a local project with a '.' stays. Returns the
    moved `E/P` names."""
    moved = []
    for top in sorted((root / "runs").iterdir()):
        entity, dot, project = top.name.partition(".")
        if not dot or top.name.startswith(ENTITY_MARK) or not top.is_dir():
            continue
        runs = [d for d in top.iterdir() if d.is_dir() and not d.name.startswith(".")]
        if not runs or not all(_says(d, entity, project) for d in runs):
            continue
        target = project_dir(root, project, entity)
        target.mkdir(parents=True, exist_ok=True)
        for d in runs:
            if not (target / d.name).exists():
                d.rename(target / d.name)
        fsync_dir(target)
        shutil.rmtree(top, ignore_errors=True)  # emptied (or twins left by a crash)
        moved.append(f"{entity}/{project}")
    return moved


def _says(run_dir: Path, entity: str, project: str) -> bool:
    try:
        meta = json.loads((run_dir / "run.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and (meta.get("entity"), meta.get("project")) == (entity, project)


def project_dir_name(entity: str, project: str) -> str:
    """A project's place below `runs/`, `artifacts/` and the blob references: `@E/P`, the
    entity and the project as separate levels (names checked by `check_names` first)."""
    return f"{ENTITY_MARK}{entity}/{project}"


def check_names(entity: str, project: str, run_id: str | None = None) -> None:
    """Entity, project and run id as they may appear in a path, or Invalid."""
    try:
        check_entity(entity)
        check_name(project, "project")
        if run_id is not None:
            check_run_id(run_id)
    except ValueError as e:
        raise Refused(str(e), "invalid_name") from None


def check_segment_name(stream: str, name: str) -> SegmentName:
    """The stream and the sealed segment name of an upload, checked before its body is read."""
    if stream not in STREAMS:
        raise Refused(f"unknown stream {stream!r}: use 'history' or 'system'", "invalid_name")
    seg = parse_segment_name(name)
    if seg is None or not seg.sealed or not _WRITER_RE.match(seg.writer):
        raise Refused(
            f"invalid segment name {name[:100]!r}: expected <writer>-<seq>-<sha256>.parquet "
            "with a writer id of 1-32 lowercase letters and digits",
            "invalid_name",
        )
    return seg


#: what a run PUT may carry besides its metadata, answered by the blob routes (blob_routes.py):
#: the run's blobs (`[{"sha256", "size"}]`: the answer says which the project lacks) and its
#: file list (`{name: {"sha256"}}`: recorded at once when the project holds every one)
RUN_EXTRAS = ("blobs", "files")


def parse_meta_body(
    body: bytes, limits: ServerLimits
) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """`{"meta": run.json, "writers": [state, ...]}` and the RUN_EXTRAS it carries, or
    Refused naming what is wrong."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise Refused(f"body is not JSON: {e}", "invalid") from None
    except RecursionError:
        raise Refused("body is nested too deeply to be run metadata", "invalid") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
        raise Refused('body must be {"meta": {...}, "writers": [...]}', "invalid")
    writers = doc.get("writers") or []
    if not isinstance(writers, list):
        raise Refused('"writers" must be a list of writer states', "invalid")
    if len(writers) > limits.max_writers:
        raise Refused(
            f"{len(writers)} writer states; the server takes at most {limits.max_writers}",
            "invalid",
        )
    return doc["meta"], writers, {k: doc[k] for k in RUN_EXTRAS if k in doc}


def run_documents(
    entity: str, project: str, run_id: str, meta: dict[str, Any], writers: list[Any]
) -> tuple[bytes, dict[str, bytes]]:
    """run.json and each writer's state as the store writes them, or Refused: the checks
    every receiving store makes before it writes anything."""
    if meta.get("id") != run_id:
        raise Refused(f"run.json says id {meta.get('id')!r}, the URL says {run_id!r}")
    states = {}
    for w in writers:
        wid = w.get("writer") if isinstance(w, dict) else None
        if not isinstance(wid, str) or not _WRITER_RE.match(wid):
            shown = wid[:40] + "..." if isinstance(wid, str) and len(wid) > 40 else wid
            raise Refused(
                f"invalid writer state: writer id {shown!r} (1-32 lowercase letters and digits)",
                "invalid_name",
            )
        states[wid] = w
    # where it lives now; "online" described the client's mode, not this copy
    meta = {k: v for k, v in meta.items() if k != "online"}
    meta.update(entity=entity, project=project)
    try:  # compact: json's C encoder (indented is its Python one, ~5x the CPU)
        return dumps(meta, indent=None), {wid: dumps(w, indent=None) for wid, w in states.items()}
    except (TypeError, ValueError, RecursionError) as e:
        raise Refused(f"run metadata is not JSON: {e}") from None


def check_digest(seg: SegmentName, digest: str) -> None:
    """The body's sha256 is the one its name carries, or Refused."""
    if digest != seg.sha256:
        raise Refused(
            f"sha256 of the body is {digest}, but the segment name says {seg.sha256}: "
            "the upload was corrupted or the name is wrong",
            "hash_mismatch",
        )


def conflict(seg: SegmentName, stored: str) -> Refused:
    """The 409 for a segment number already stored with another content (`stored` says
    which)."""
    return Refused(
        f"segment {seg.stem} is already stored with different content ({stored}); "
        "sealed segments are immutable",
        "conflict",
        409,
    )


def key_of(paths: RunPaths) -> str:
    """The run key `on_change` is called with (what the listing index names a run by)."""
    entity, project, run_id = paths.address
    return run_key(project, run_id, entity)


class ReceivingStore:
    """Run directories of a server root, keyed by entity, project and run id."""

    def __init__(self, root: Path | str, limits: ServerLimits | None = None) -> None:
        self.root = Path(root).resolve()  # DuckDB reads segments by absolute path
        self.limits = limits or ServerLimits()
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        migrate_joined_projects(self.root)
        self.uploads = self.root / UPLOADS
        shutil.rmtree(self.uploads, ignore_errors=True)  # what a killed server left
        self.uploads.mkdir()
        self._place = threading.Lock()  # the twin check and the rename, as one step
        self._names = SealedNames()  # used under _place
        self._new_dirs = NewDirs()
        #: called with a run's key after its metadata or a segment is stored (the index)
        self.on_change: Callable[[str], None] = lambda run_key: None

    def paths(self, entity: str, project: str, run_id: str) -> RunPaths:
        check_names(entity, project, run_id)
        return RunPaths.of(self.root, project, run_id, entity)

    def require_run(self, entity: str, project: str, run_id: str) -> RunPaths:
        paths = self.paths(entity, project, run_id)
        if not paths.meta.exists():
            raise run_missing(entity, project, run_id)
        return paths

    def uploading(self, paths: RunPaths, creating: bool = False) -> AbstractContextManager[None]:
        """Held while an upload writes into the run's directory (upload_hold.py)."""
        return upload_held(paths, creating)

    def put_run(
        self,
        entity: str,
        project: str,
        run_id: str,
        meta: dict[str, Any],
        writers: list[Any],
        commit: GroupCommit | None = None,
    ) -> bool:
        """Write run.json and the writers' state files; True when the run is new here.
        `commit`: the request's, which makes them durable with its other files (else they
        are durable when this returns)."""
        paths = self.paths(entity, project, run_id)
        docs = run_documents(entity, project, run_id, meta, writers)
        return self.write_run(paths, *docs, commit=commit, created_at=meta.get("created_at"))

    def write_run(
        self,
        paths: RunPaths,
        meta: bytes,
        states: dict[str, bytes],
        commit: GroupCommit | None = None,
        created_at: Any = None,
    ) -> bool:
        """Write documents `run_documents` checked; True when the run is new here. Written
        by `commit` (its own if None, committed before this returns). A new run's start
        (`created_at`, its run.json's) goes to its project's ledger once it is stored, as
        init() notes it (store/run_ledger.py: listings then need not read its run.json)."""
        own = commit is None
        commit = commit or GroupCommit()
        try:
            new = not paths.meta.exists()
            # not system/: made by the run's first system segment (place_segment), as most
            # runs synced have none
            for d in (paths.dir, paths.writers, paths.history):
                commit.make_dirs(d)
            stored = stored_states(paths, states)
            for wid, b in not_behind(stored, states).items():
                commit.write(paths.writer_state(wid), b)
            if not run_json_behind(stored, states):  # an older copy's: kept out
                commit.write(paths.meta, meta)
            commit.after(lambda: self.on_change(key_of(paths)))
            if new and type(created_at) in (int, float):
                commit.after(lambda: append_created(paths.dir.parent, paths.dir.name, created_at))
            if own:
                commit.commit()
        except BaseException:
            if own:
                commit.abandon()
            raise
        return new

    def segments(self, entity: str, project: str, run_id: str) -> dict[str, list[str]] | None:
        """Names of the sealed segments stored per stream, or None if the run is not here."""
        paths = self.paths(entity, project, run_id)
        if not paths.meta.exists():
            return None
        return stored_segments(paths)

    def place_segment(
        self,
        paths: RunPaths,
        stream: str,
        seg: SegmentName,
        tmp: Path,
        digest: str,
        sync_dir: bool = True,
        contents: Bytes | None = None,
    ) -> bool:
        """Check the uploaded temp file and rename it into place; False when this content is
        already stored (a no-op). The caller removes `tmp` whatever happens. `sync_dir=False`:
        the caller makes the rename durable (fsync_dir) before it answers - a batch does it
        once per directory. `contents`: the file's bytes, when the caller holds them (checked
        from memory rather than read back; in Arrow's memory, or copied into it)."""
        check_digest(seg, digest)
        name = sealed_segment_name(seg.writer, seg.seq, digest)
        directory = paths.stream(stream)
        made = None  # set when this call made `directory`
        try:
            with self._place:
                if self._twin(directory, seg) == name:
                    return False
            check_segment_file(
                tmp if contents is None else contents, seg.writer, self.limits.segment
            )
            compared = None  # the stored seal `tmp` was found to be a longer seal of
            while True:
                with self._place:
                    try:
                        existing = self._names.twin(directory, seg)
                    except FileNotFoundError:
                        made, existing = self._new_dirs.make(directory), None
                    if existing is not None and (existing == name or (directory / name).exists()):
                        return False
                    if existing is None or existing == compared:
                        tmp.replace(directory / name)
                        self._names.placed(directory, seg, name)
                        break
                # another seal of this segment is stored: compared out of the lock every upload
                # of the server takes (a comparison reads both files), then placed if unchanged
                longer = grown(directory / existing, tmp, self.limits.read_memory)
                if longer is None:
                    raise conflict(seg, existing)
                if not longer:
                    return False  # a shorter seal of what is stored: nothing it lacks
                compared = existing
            if sync_dir:
                fsync_dir(directory)
        finally:
            self._new_dirs.settle(directory, made)  # (new_dirs.py)
        self.on_change(key_of(paths))
        return True

    def _twin(self, directory: Path, seg: SegmentName) -> str | None:
        """SealedNames.twin in the run's stream directory; a missing one holds nothing.
        Under _place."""
        try:
            return self._names.twin(directory, seg)
        except FileNotFoundError:
            return None

    # -- what a replica on a shared store does differently (shared_store.py) --------------
    def readable(self, entity: str, project: str, run_id: str) -> RunPaths:
        """The run's directory to read run.json and writer states from: where it is."""
        return self.paths(entity, project, run_id)

    def fetch_segments(self, entity: str, project: str, run_id: str) -> None:
        """Nothing to fetch: every stored segment is on this disk."""

    def changed_runs(self) -> list[str]:
        """Runs changed by other servers: none, this one writes every run (`on_change`)."""
        return []

    def run_ids(self, entity: str, project: str) -> list[str]:
        return [p.dir.name for p in iter_run_dirs(self.root, project_dir_name(entity, project))]

    def check(self) -> None:
        """Raise unless the store can be written (the health check)."""
        if not os.access(self.uploads, os.W_OK):
            raise OSError(f"{self.uploads} is not writable")


def stored_segments(paths: RunPaths) -> dict[str, list[str]]:
    """Names of the sealed segments in a run directory, per stream (also while its run.json
    waits for its request's commit)."""
    return {
        stream: [p.name for seg, p in list_segments(paths.stream(stream)) if seg.sealed]
        for stream in STREAMS
    }


def public_meta(meta: dict[str, Any], member: bool) -> dict[str, Any]:
    """run.json as a reader may see it: git and the command are for members only."""
    if member:
        return meta
    return {k: v for k, v in meta.items() if k not in MEMBER_ONLY_FIELDS}


def public_files(files: dict[str, Any], member: bool) -> dict[str, Any]:
    """A run's file list as a reader may see it: the git diff is for members only."""
    if member:
        return files
    return {name: f for name, f in files.items() if name not in MEMBER_ONLY_FILES}
