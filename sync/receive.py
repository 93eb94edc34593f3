"""The receiving end's store: what the server writes, in the ordinary store format.

A server root is a flightlog store, so `flightlog tui/runs/sql --root DIR` work on it. The
store has one level of projects, so a project of entity E is the directory `runs/E.P/`:
entity names never contain '.', which makes the split unambiguous, and `E.P` is itself a
valid project name. Every name is validated before it becomes part of a path, and every
segment is checked (hash, Parquet, schema) before it is renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flightlog.store.atomic import atomic_write_bytes, dumps, fsync_dir
from flightlog.store.layout import (
    RunPaths,
    check_name,
    check_run_id,
    parse_segment_name,
)
from flightlog.store.schema import WRITER_ID_KEY, validate_history_table

from .accounts import check_entity

STREAMS = ("history", "system")
_WRITER_RE = re.compile(r"^[a-z0-9]{1,32}$")
#: run.json fields shown to project members only (the seed: "visible to members only")
MEMBER_ONLY_FIELDS = ("git", "command", "program", "cwd")


class Invalid(ValueError):
    """Input the server refuses; the message says what is wrong (sent back as a 4xx)."""

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
        raise Invalid(str(e), "invalid_name") from None


def check_segment(stream: str, name: str, data: bytes) -> None:
    """The body is the sealed segment its name says: sha256, Parquet, history schema."""
    if stream not in STREAMS:
        raise Invalid(f"unknown stream {stream!r}: use 'history' or 'system'", "invalid_name")
    seg = parse_segment_name(name)
    if seg is None or not seg.sealed:
        raise Invalid(
            f"invalid segment name {name!r}: expected <writer>-<seq>-<sha256>.parquet",
            "invalid_name",
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != seg.sha256:
        raise Invalid(
            f"sha256 of the body is {digest}, but the segment name says {seg.sha256}: "
            "the upload was corrupted or the name is wrong",
            "hash_mismatch",
        )
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as e:  # pyarrow raises several types for garbage
        raise Invalid(f"the body is not a Parquet file: {e}", "not_parquet") from None
    try:
        validate_history_table(table)
    except ValueError as e:
        raise Invalid(str(e), "wrong_schema") from None
    wid = (table.schema.metadata or {}).get(WRITER_ID_KEY)
    if wid is not None and wid.decode() != seg.writer:
        raise Invalid(
            f"segment {name!r} was written by writer {wid.decode()!r}, not {seg.writer!r}",
            "wrong_schema",
        )


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
            raise Invalid(f"run.json says id {meta.get('id')!r}, the URL says {run_id!r}")
        states = {}
        for w in writers:
            wid = w.get("writer") if isinstance(w, dict) else None
            if not isinstance(wid, str) or not _WRITER_RE.match(wid):
                raise Invalid(f"invalid writer state: writer id {wid!r}", "invalid_name")
            states[wid] = w
        # where it lives now; "online" described the client's mode, not this copy
        meta = {k: v for k, v in meta.items() if k != "online"}
        meta.update(entity=entity, project=project)
        try:
            body = dumps(meta)
            state_bodies = {wid: dumps(w) for wid, w in states.items()}
        except (TypeError, ValueError) as e:
            raise Invalid(f"run metadata is not JSON: {e}") from None
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
        out: dict[str, list[str]] = {}
        for stream in STREAMS:
            try:
                names = os.listdir(paths.stream(stream))
            except FileNotFoundError:
                names = []
            out[stream] = sorted(n for n in names if (s := parse_segment_name(n)) and s.sealed)
        return out

    def put_segment(
        self, entity: str, project: str, run_id: str, stream: str, name: str, data: bytes
    ) -> bool:
        """Store one checked segment; False when this content is already there (a no-op)."""
        paths = self.paths(entity, project, run_id)
        if not paths.meta.exists():
            raise Invalid(
                f"run {entity}/{project}/{run_id} does not exist here: send its metadata first",
                "run_not_found",
                404,
            )
        check_segment(stream, name, data)
        directory = paths.stream(stream)
        target = directory / name
        if target.exists():
            return False
        stem = name.split("-", 2)
        prefix = f"{stem[0]}-{stem[1]}-"
        clash = [n for n in os.listdir(directory) if n.startswith(prefix) and n != name]
        if clash:
            raise Invalid(
                f"segment {stem[0]}-{stem[1]} is already stored with different content "
                f"({clash[0]}); sealed segments are immutable",
                "conflict",
                409,
            )
        tmp = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(directory)
        return True


def public_meta(meta: dict[str, Any], member: bool) -> dict[str, Any]:
    """run.json as a reader may see it: git and the command are for members only."""
    if member:
        return meta
    return {k: v for k, v in meta.items() if k not in MEMBER_ONLY_FIELDS}
