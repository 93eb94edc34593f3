"""`flightlog server migrate`: a one-machine server (SQLite accounts, segments under --root)
into a shared one (PostgreSQL, an object store), while the old server keeps serving or not.
Blobs (run files, media, artifact contents) go with their project references, run file lists,
artifact versions (numbers and aliases kept) and browser sessions; uploads under way are
not carried over (clients resume them from 0).

Resumable by construction: every step is idempotent and skips what the target has. Accounts
rows are inserted with ON CONFLICT DO NOTHING (key hashes as they are: every key keeps
working); a run's run.json and writer states are upserted; a segment is skipped when the
catalog already lists it with the same sha256. A segment is uploaded (and read back) before its
catalog row is written, so a migration killed at any point leaves nothing half-listed, and
running it again finishes the job. A longer seal recorded over a shorter one moves the
shorter to `superseded/`, as a replica does (objstore.py), and so does a segment sealed from
a copy's journal once the job's own seals of its rows are recorded (`retire_recovered`,
after the segments: a migration of a server that received both). A segment whose bytes do not
match the sha256 in its name is reported and left behind, never copied.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from flightlog.artifacts.registry import Registry
from flightlog.store.blobs import sha256_file
from flightlog.store.layout import RunPaths, iter_run_dirs
from flightlog.store.segments import list_segments

from .accounts import Accounts
from .db.artifact_table import ArtifactTable
from .db.catalog import Catalog, SegmentRow
from .objstore import ObjectStore
from .receive import STREAMS
from .seal_growth import MEMORY, grown
from .seal_retirement import fetch_segment, finish_moves, retire_recovered, retire_seal

log = logging.getLogger("flightlog.server")
#: the accounts tables, in an order that never names a row before it exists
ACCOUNT_TABLES = ("entities", "members", "keys", "projects")
#: what the database knows of blobs, copied after their bytes (a row names stored content)
BLOB_TABLES = ("blob_refs", "run_files", "sessions")


@dataclass
class Migration:
    runs: int = 0
    segments: int = 0  # copied by this call
    skipped: int = 0  # already there
    bytes: int = 0
    damaged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Segment:
    entity: str
    project: str
    run_id: str
    row: SegmentRow
    path: Path


def copy_accounts(
    source: Accounts, target: Accounts, tables: tuple[str, ...] = ACCOUNT_TABLES
) -> int:
    """Every row of `tables` the target lacks; returns how many were inserted."""
    n = 0
    for table in tables:
        with source.driver.tx() as db:
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
        if not rows:
            continue
        marks = ", ".join("?" * len(rows[0]))
        with target.driver.tx() as db:
            for row in rows:
                sql = f"INSERT INTO {table} VALUES ({marks}) ON CONFLICT DO NOTHING"
                n += db.execute(sql, list(row)).rowcount
    return n


def server_runs(root: Path) -> list[tuple[str, str, RunPaths]]:
    """(entity, project, paths) of every run under a server root (`runs/@ENTITY/PROJECT/ID`,
    or `runs/ENTITY.PROJECT/ID` as servers before entities were a level kept them)."""
    out = []
    for paths in iter_run_dirs(root):
        entity, project, _ = paths.address
        if entity is None:
            entity, dot, project = project.partition(".")
            if not dot:
                log.warning("skipping %s: not a server run directory (@ENTITY/PROJECT)", paths.dir)
                continue
        out.append((entity, project, paths))
    return sorted(out, key=lambda t: (t[0], t[1], t[2].dir.name))


def migrate(
    root: Path,
    target: Accounts,
    objects: ObjectStore,
    on_plan: Callable[[int, int], None] = lambda n, size: None,
    on_segment: Callable[[int], None] = lambda size: None,
) -> Migration:
    """Copy accounts, runs and segments from the server root `root` into `target`'s database
    and `objects`. `on_plan(segments, bytes)` once, then `on_segment(bytes)` per segment."""
    source = Accounts(root)
    copy_accounts(source, target)
    catalog = Catalog(target.driver)
    report = Migration()
    todo: list[_Segment] = []
    for entity, project, paths in server_runs(root):
        states = {p.stem: p.read_text() for p in sorted(paths.writers.glob("*.json"))}
        catalog.put_run(entity, project, paths.dir.name, paths.meta.read_text(), states)
        target.ensure_project(entity, project)  # a run's project exists (private unless set)
        report.runs += 1
        for stream in STREAMS:
            for seg, path in list_segments(paths.stream(stream)):
                if seg.sealed and seg.sha256:
                    row = SegmentRow(stream, seg.writer, seg.seq, seg.sha256, path.stat().st_size)
                    todo.append(_Segment(entity, project, paths.dir.name, row, path))
    on_plan(len(todo), sum(s.row.size for s in todo))
    for s in todo:
        _copy(s, catalog, objects, report)
        on_segment(s.row.size)
    _retire_recovered(todo, catalog, objects)
    _copy_blobs(root, objects, report)
    copy_accounts(source, target, BLOB_TABLES)
    _copy_artifacts(root, ArtifactTable(target.driver))
    return report


def _retire_recovered(todo: list[_Segment], catalog: Catalog, objects: ObjectStore) -> None:
    """`retire_recovered` for every writer of the segments migrated or found there (a
    migration killed before this step does it when run again): a copy's journal rows the
    job sealed again leave the Hive tree, as a replica moves them."""
    writers = sorted({(s.entity, s.project, s.run_id, s.row.stream, s.row.writer) for s in todo})
    with tempfile.TemporaryDirectory(prefix="flightlog-migrate-") as tmp:
        for entity, project, run_id, stream, writer in writers:
            address = (entity, project, run_id)
            retire_recovered(objects, catalog, address, stream, writer, Path(tmp), MEMORY)


def _copy_artifacts(root: Path, table: ArtifactTable) -> None:
    """The server's artifact versions and aliases (`root/artifacts/@E/P/NAME`), numbers kept."""
    registry = Registry(root)
    for name_dir in sorted((root / "artifacts").glob("@*/*/*")):
        where = str(name_dir.parent.relative_to(root / "artifacts"))
        aliases = registry.aliases(where, name_dir.name)
        for v in registry.versions(where, name_dir.name):
            table.adopt(v, aliases.get(v.version, []))


def _copy_blobs(root: Path, objects: ObjectStore, report: Migration) -> None:
    """The server's blobs (`root/blobs/<aa>/<sha256>`) into the object store, each checked."""
    for path in sorted((root / "blobs").glob("??/*")):
        sha = path.name
        if len(sha) != 64 or not path.is_file():
            continue  # a temp file of a write cut short
        if sha256_file(path)[0] != sha:
            log.warning("not copied: %s does not match the sha256 in its name", path)
            report.damaged.append(str(path))
            continue
        if objects.put(ObjectStore.blob_key(sha), path, sha):
            report.bytes += path.stat().st_size


def _copy(s: _Segment, catalog: Catalog, objects: ObjectStore, report: Migration) -> None:
    row = s.row
    known = catalog.segment(s.entity, s.project, s.run_id, row.stream, row.writer, row.seq)
    if known == row.sha256:
        report.skipped += 1
        return
    if sha256_file(s.path)[0] != row.sha256:
        log.warning("not copied: %s does not match the sha256 in its name", s.path)
        report.damaged.append(str(s.path))
        return
    if known is not None:
        longer = _grown_over(objects, s, known)
        if longer is None:
            log.warning("not copied: %s; the target holds %s for that segment", s.path, known)
            report.damaged.append(str(s.path))
            return
        if not longer:  # the target holds a longer seal of it (sync/seal_growth.py)
            report.skipped += 1
            return
    address = (s.entity, s.project, s.run_id)
    objects.put(ObjectStore.segment_key(*address, row.stream, row.name), s.path, row.sha256)
    now = catalog.add_segment(*address, row, replacing=known)
    if now is None and known is not None:  # the shorter seal leaves the Hive tree
        owed = catalog.seal_moves(*address, row.stream, row.writer)
        try:
            finish_moves(objects, catalog, owed)
        except OSError as e:  # still owed: a replica's start moves it
            log.warning("a seal replaced by %s stays in the segments/ tree: %s", s.path, e)
    elif now is not None:  # a replica recorded a seal of it meanwhile: it is there
        if now != row.sha256:  # another seal: this upload leaves the Hive tree
            retire_seal(objects, address, row)
        report.skipped += 1
        return
    report.segments += 1
    report.bytes += row.size


def _grown_over(objects: ObjectStore, s: _Segment, known: str) -> bool | None:
    """Whether `s` is a longer seal of the segment the target holds with sha256 `known`
    (a server that received the longer after an earlier migration: both seals are in its
    root, and it reads the longer), a shorter one (False), or neither (None)."""
    was = replace(s.row, sha256=known)
    with tempfile.TemporaryDirectory(prefix="flightlog-migrate-") as tmp:
        stored = fetch_segment(objects, (s.entity, s.project, s.run_id), was, Path(tmp))
        return grown(stored, s.path)
