"""The receiving end's store: what the server writes, in the ordinary store format.

A server root is a flightlog store, so `flightlog tui/runs/sql --root DIR` work on it. The
store has one level of projects, so a project of entity E is the directory `runs/E.P/`:
entity names never contain '.', which makes the split unambiguous, and `E.P` is itself a
valid project name. Every name is validated before it becomes part of a path, and every
segment is checked (hash, Parquet, schema) before it is renamed into place.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flightlog.store.atomic import atomic_write_bytes, dumps, fsync_dir
from flightlog.store.layout import (
    RunPaths,
    SegmentName,
    check_name,
    check_run_id,
    parse_segment_name,
)
from flightlog.store.schema import WRITER_ID_KEY, validate_history_table
from flightlog.store.segments import list_segments, sealed_twin

from .accounts import check_entity

STREAMS = ("history", "system")
_WRITER_RE = re.compile(r"^[a-z0-9]{1,32}$")
#: run.json fields shown to project members only (the seed: "visible to members only")
MEMBER_ONLY_FIELDS = ("git", "command", "program", "cwd")


class Refused(ValueError):
    """A request the server refuses: bad input, no key, no permission. Sent back as the
    4xx `status` with `{"error": code, "message": str(self)}`."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def project_dir_name(entity: str, project: str) -> str:
    return f"{entity}.{project}"


def check_names(entity: str, project: str, run_id: str | None = None) -> None:
    """Entity, project and run id as they may appear in a path, or Invalid."""
    try:
        check_entity(entity)
        check_name(project, "project")
        if run_id is not None:
            check_run_id(run_id)
    except ValueError as e:
        raise Refused(str(e), "invalid_name") from None


def check_segment(stream: str, name: str, data: bytes) -> SegmentName:
    """The body is the sealed segment its name says: sha256, Parquet, history schema."""
    if stream not in STREAMS:
        raise Refused(f"unknown stream {stream!r}: use 'history' or 'system'", "invalid_name")
    seg = parse_segment_name(name)
    if seg is None or not seg.sealed:
        raise Refused(
            f"invalid segment name {name!r}: expected <writer>-<seq>-<sha256>.parquet",
            "invalid_name",
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != seg.sha256:
        raise Refused(
            f"sha256 of the body is {digest}, but the segment name says {seg.sha256}: "
            "the upload was corrupted or the name is wrong",
            "hash_mismatch",
        )
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as e:  # pyarrow raises several types for garbage
        raise Refused(f"the body is not a Parquet file: {e}", "not_parquet") from None
    try:
        validate_history_table(table)
    except ValueError as e:
        raise Refused(str(e), "wrong_schema") from None
    wid = (table.schema.metadata or {}).get(WRITER_ID_KEY)
    if wid is not None and wid.decode() != seg.writer:
        raise Refused(
            f"segment {name!r} was written by writer {wid.decode()!r}, not {seg.writer!r}",
            "wrong_schema",
        )
    return seg


class ReceivingStore:
    """Run directories of a server root, keyed by entity, project and run id."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)

    def paths(self, entity: str, project: str, run_id: str) -> RunPaths:
        check_names(entity, project, run_id)
        return RunPaths.of(self.root, project_dir_name(entity, project), run_id)

    def put_run(
        self, entity: str, project: str, run_id: str, meta: dict[str, Any], writers: list[Any]
    ) -> bool:
        """Write run.json and the writers' state files; True when the run is new here."""
        paths = self.paths(entity, project, run_id)
        if meta.get("id") != run_id:
            raise Refused(f"run.json says id {meta.get('id')!r}, the URL says {run_id!r}")
        states = {}
        for w in writers:
            wid = w.get("writer") if isinstance(w, dict) else None
            if not isinstance(wid, str) or not _WRITER_RE.match(wid):
                raise Refused(f"invalid writer state: writer id {wid!r}", "invalid_name")
            states[wid] = w
        # where it lives now; "online" described the client's mode, not this copy
        meta = {k: v for k, v in meta.items() if k != "online"}
        meta.update(entity=entity, project=project)
        try:
            body = dumps(meta)
            state_bodies = {wid: dumps(w) for wid, w in states.items()}
        except (TypeError, ValueError) as e:
            raise Refused(f"run metadata is not JSON: {e}") from None
        new = not paths.meta.exists()
        for d in (paths.dir, paths.writers, paths.history, paths.system):
            d.mkdir(parents=True, exist_ok=True)
        for wid, b in state_bodies.items():
            atomic_write_bytes(paths.writer_state(wid), b)
        atomic_write_bytes(paths.meta, body)
        return new

    def segments(self, entity: str, project: str, run_id: str) -> dict[str, list[str]] | None:
        """Names of the sealed segments stored per stream, or None if the run is not here."""
        paths = self.paths(entity, project, run_id)
        if not paths.meta.exists():
            return None
        return {
            stream: [p.name for seg, p in list_segments(paths.stream(stream)) if seg.sealed]
            for stream in STREAMS
        }

    def put_segment(
        self, entity: str, project: str, run_id: str, stream: str, name: str, data: bytes
    ) -> bool:
        """Store one checked segment; False when this content is already there (a no-op)."""
        paths = self.paths(entity, project, run_id)
        if not paths.meta.exists():
            raise Refused(
                f"run {entity}/{project}/{run_id} does not exist here: send its metadata first",
                "run_not_found",
                404,
            )
        seg = check_segment(stream, name, data)
        directory = paths.stream(stream)
        existing = sealed_twin(directory, seg)
        if existing is not None:
            if existing.name == name:
                return False
            raise Refused(
                f"segment {seg.stem} is already stored with different content "
                f"({existing.name}); sealed segments are immutable",
                "conflict",
                409,
            )
        atomic_write_bytes(directory / name, data)
        fsync_dir(directory)
        return True


def public_meta(meta: dict[str, Any], member: bool) -> dict[str, Any]:
    """run.json as a reader may see it: git and the command are for members only."""
    if member:
        return meta
    return {k: v for k, v in meta.items() if k not in MEMBER_ONLY_FIELDS}
