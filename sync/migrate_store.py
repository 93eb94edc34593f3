"""`flightlog server migrate`: a one-machine server (SQLite accounts, segments under --root)
into a shared one (PostgreSQL, an object store), while the old server keeps serving or not.

Resumable by construction: every step is idempotent and skips what the target has. Accounts
rows are inserted with ON CONFLICT DO NOTHING (key hashes as they are: every key keeps
working); a run's run.json and writer states are upserted; a segment is skipped when the
catalog already lists it with the same sha256. A segment is uploaded (and read back) before its
catalog row is written, so a migration killed at any point leaves nothing half-listed, and
running it again finishes the job. A segment whose bytes do not match the sha256 in its name
is reported and left behind, never copied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flightlog.store.layout import RunPaths, iter_run_dirs
from flightlog.store.segments import list_segments, sha256_file

from .accounts import Accounts
from .db.catalog import STREAMS, Catalog, SegmentRow
from .objstore import ObjectStore

log = logging.getLogger("flightlog.server")
#: the accounts tables, in an order that never names a row before it exists
ACCOUNT_TABLES = ("entities", "members", "keys", "projects")


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


def copy_accounts(source: Accounts, target: Accounts) -> int:
    """Every accounts row the target lacks; returns how many were inserted."""
    n = 0
    for table in ACCOUNT_TABLES:
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
    copy_accounts(Accounts(root), target)
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
    return report


def _copy(s: _Segment, catalog: Catalog, objects: ObjectStore, report: Migration) -> None:
    row = s.row
    known = catalog.segment(s.entity, s.project, s.run_id, row.stream, row.writer, row.seq)
    if known == row.sha256:
        report.skipped += 1
        return
    if known is not None:
        log.warning("not copied: %s; the target holds %s for that segment", s.path, known)
        report.damaged.append(str(s.path))
        return
    if sha256_file(s.path) != row.sha256:
        log.warning("not copied: %s does not match the sha256 in its name", s.path)
        report.damaged.append(str(s.path))
        return
    key = ObjectStore.segment_key(s.entity, s.project, s.run_id, row.stream, row.name)
    objects.put(key, s.path, row.sha256)
    catalog.add_segment(s.entity, s.project, s.run_id, row)
    report.segments += 1
    report.bytes += row.size
