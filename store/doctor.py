"""`flightlog doctor`: find what is wrong in a store, and repair what can be repaired.

Repairs never delete data: recoverable open segments of writers proven dead are sealed
(their complete batches kept, a torn tail dropped; store/takeover.py says when a writer is
proven dead), dead writers are recorded as crashed, and what cannot be read is moved aside
into <root>/quarantine/ with its path kept. A writer that only stopped heartbeating (a paused
host) is reported, and left alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import atomic_write_json, read_json
from .blobs import BlobStore, sha256_file
from .index import INDEX_FILE, Index, scan_files
from .journal import JournalSnapshot, parse_journal_name
from .layout import RunPaths, iter_run_dirs, parse_segment_name, project_dirs
from .liveness import CRASHED, RUNNING, writer_state
from .pyramid_sweep import orphans
from .schema import validate_history_table
from .segments import read_ipc_segment
from .takeover import (
    STALE_SECONDS_ENV,
    journal_recoverable,
    may_seal,
    recover_journals,
    seal_after,
    seal_taken,
    writer_gone,
)
from .temp_leftovers import temp_segment

QUARANTINE = "quarantine"
#: what `check` finds that is no fault, only work not done yet: rows a writer left in
#: journals or an open segment (a hot loop's finish() leaves its backlog there by design, a
#: killed writer its last rows), read as they are and sealed by `--repair`, `flightlog sync`,
#: the agent or a resume; an index behind the files, which every reader catches up first
WAITING = frozenset({"unsealed-journal", "unsealed-segment", "stale-index"})


@dataclass
class Problem:
    #: corrupt-segment, unsealed-segment, unsealed-journal, dead-writer, stalled-writer,
    #: stale-temp, orphan-file, orphan-pyramid, bad-run, stale-index
    kind: str
    path: Path
    detail: str
    fix: str  # what --repair does about it

    def line(self, root: Path) -> str:
        try:
            rel = self.path.relative_to(root)
        except ValueError:
            rel = self.path
        return f"{self.kind:17} {rel}: {self.detail} -> {self.fix}"


def _check_sealed(path: Path, sha: str) -> str | None:
    if sha256_file(path)[0] != sha:
        return "content does not match the sha256 in its name (truncated or overwritten)"
    try:
        validate_history_table(pq.read_table(path))
    except (pa.ArrowInvalid, OSError, ValueError) as e:
        return f"not a readable history Parquet file: {e}"
    return None


def check(root: Path, progress: Callable[[int, int], None] | None = None) -> list[Problem]:
    """Every problem in the store under `root` (reads every segment: may take a while)."""
    problems: list[Problem] = []
    runs = iter_run_dirs(root)
    for i, paths in enumerate(runs):
        problems.extend(_check_run(paths))
        problems.extend(_stale_blob_temps(paths.dir / "media"))
        if progress:
            progress(i + 1, len(runs))
    problems.extend(_stale_blob_temps(root / "blobs"))
    problems.extend(_headless_runs(root))
    problems.extend(_orphan_pyramids(root))
    problems.extend(_stale_index(root))
    return problems


def _headless_runs(root: Path) -> list[Problem]:
    """Run directories with history but no run.json (an interrupted copy or rsync of a
    store leaves them: files/ and history/ come before run.json). No tool lists such a run,
    so this is the one place that says its rows are there."""
    out = []
    for _, project in project_dirs(root):
        for name in _listdir(project):
            meta, history = project / name / "run.json", project / name / "history"
            if meta.exists() or not history.is_dir() or not (n := len(_listdir(history))):
                continue
            out.append(
                Problem(
                    "bad-run",
                    meta,
                    f"run.json is missing: no tool lists this run or its {n} history files",
                    "none (copy run.json back from where the run came from)",
                )
            )
    return out


def _orphan_pyramids(root: Path) -> list[Problem]:
    """Chart sidecars of segments no run holds any more (store/pyramid.py): a cache that
    would otherwise grow forever as runs are deleted."""
    return [
        Problem(
            "orphan-pyramid",
            path,
            "chart summary of a segment no run holds (deleted?)",
            "remove it (a cache: nothing else refers to it)",
        )
        for path in orphans(root, seal_after())
    ]


def _stale_blob_temps(blobs: Path) -> list[Problem]:
    """Temp files of media or artifact files a killed process was storing (store/blobs.py)."""
    idle = seal_after()
    return [
        Problem(
            "stale-temp",
            tmp,
            f"a file being stored when its process stopped (untouched for {idle:g} s)",
            "remove it (nothing refers to it)",
        )
        for tmp in BlobStore(blobs).stale_temps(idle)
    ]


def _check_run(paths: RunPaths) -> list[Problem]:
    out: list[Problem] = []
    if read_json(paths.meta) is None:
        out.append(Problem("bad-run", paths.meta, "run.json is not readable JSON", "none"))
    writers = {}
    for p in paths.writers.glob("*.json") if paths.writers.is_dir() else []:
        w = read_json(p)
        if w is None:
            out.append(Problem("bad-run", p, "writer state is not readable JSON", "none"))
            continue
        writers[p.stem] = w
        if w.get("state") != RUNNING or writer_state(w) != CRASHED:
            continue
        if writer_gone(w):
            out.append(Problem("dead-writer", p, "its process is gone", "record it as crashed"))
        else:
            out.append(
                Problem(
                    "stalled-writer",
                    p,
                    f"no heartbeat from host {str(w.get('host'))!r} for {_ago(w)}; paused?",
                    f"none: its segments are left to it for {seal_after():g} s without a "
                    f"heartbeat ({STALE_SECONDS_ENV})",
                )
            )
    for stream_dir, entry in [(d, e) for d in (paths.history, paths.system) for e in _listdir(d)]:
        path = stream_dir / entry
        name = parse_segment_name(entry)
        if parse_journal_name(entry) is not None:
            out.extend(_check_journal(path, writers))
            continue
        temp_of = temp_segment(entry)
        if temp_of is not None:
            w = writers.get(temp_of.writer)
            if w is None or writer_gone(w):
                out.append(
                    Problem(
                        "stale-temp",
                        path,
                        "an unfinished sealed copy of a segment, left by a process that stopped",
                        "remove it (the segment itself keeps every row)",
                    )
                )
            continue  # else its writer is building it
        if name is None:
            out.append(
                Problem(
                    "orphan-file", path, "not a segment (left by a crash?)", "move to quarantine"
                )
            )
            continue
        if name.sealed:
            err = _check_sealed(path, name.sha256 or "")
            if err:
                out.append(Problem("corrupt-segment", path, err, "move to quarantine"))
            continue
        if not may_seal(name, path, writers):
            continue  # its writer (or a sealer that claimed it) may still be at work
        try:
            table = read_ipc_segment(path)
        except (pa.ArrowInvalid, OSError, ValueError) as e:
            out.append(Problem("corrupt-segment", path, f"unreadable: {e}", "move to quarantine"))
            continue
        out.append(
            Problem(
                "unsealed-segment",
                path,
                f"open segment of a writer that stopped ({table.num_rows} rows)",
                "seal it (complete batches kept)",
            )
        )
    return out


def _check_journal(path: Path, writers: dict[str, dict[str, Any]]) -> list[Problem]:
    """A journal of a writer that can never write again: its rows go into a segment."""
    jname = parse_journal_name(path.name)
    assert jname is not None
    if not journal_recoverable(writers.get(jname.writer), path):
        return []  # its writer may still be at work (or it is on another host)
    try:
        snap = JournalSnapshot.read(path)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        return [Problem("corrupt-segment", path, f"unreadable journal: {e}", "move to quarantine")]
    return [
        Problem(
            "unsealed-journal",
            path,
            f"journal of a writer that stopped ({snap.rows} rows)",
            "write the rows no segment holds into a sealed segment, remove the journal",
        )
    ]


def _ago(w: dict[str, Any]) -> str:
    beat = w.get("heartbeat_at")
    return f"{time.time() - beat:.0f} s" if isinstance(beat, int | float) else "ever"


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _stale_index(root: Path) -> list[Problem]:
    path = root / INDEX_FILE
    if not path.exists():
        return [Problem("stale-index", path, "no index yet", "build it")]
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return []  # held by another process, which keeps it current
    try:
        known = {
            r[0]: tuple(r[1:])
            for r in con.execute("SELECT path, size, mtime_ns FROM files").fetchall()
        }
    except duckdb.Error:
        known = {}
    finally:
        con.close()
    current = {p: v for files in scan_files(root).values() for p, v in files.items()}
    changed = sum(1 for p, v in current.items() if known.get(p) != v)
    changed += sum(1 for p in known if p not in current)
    if changed:
        return [
            Problem(
                "stale-index",
                path,
                f"{changed} files changed since the last catch-up",
                "catch it up",
            )
        ]
    return []


def repair(root: Path, problems: list[Problem]) -> list[str]:
    """Fix what `check` found; returns one line per action taken."""
    done = []
    for p in problems:
        if p.kind == "unsealed-segment":
            name = parse_segment_name(p.path.name)
            sealed = seal_taken(name, p.path) if name is not None else None
            if sealed is not None:
                done.append(f"sealed {p.path.relative_to(root)} -> {sealed.name}")
        elif p.kind == "unsealed-journal":
            paths = RunPaths(p.path.parents[1])
            writers = {w["writer"]: w for w in map(read_json, paths.writers.glob("*.json")) if w}
            for sealed in recover_journals(paths, writers):
                done.append(f"recovered {p.path.relative_to(root)} -> {sealed.name}")
        elif p.kind in ("stale-temp", "orphan-pyramid"):
            p.path.unlink(missing_ok=True)
            done.append(f"removed {p.path.relative_to(root)}")
        elif p.kind in ("corrupt-segment", "orphan-file"):
            target = root / QUARANTINE / p.path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(p.path, target)
            done.append(f"moved {p.path.relative_to(root)} to {target.relative_to(root)}")
        elif p.kind == "dead-writer":
            w = read_json(p.path)
            if w is not None:
                atomic_write_json(p.path, {**w, "state": CRASHED})
                done.append(f"recorded writer {p.path.stem} as crashed")
        elif p.kind == "stale-index":
            with Index(root) as idx:
                done.append(f"index caught up ({idx.last.runs_indexed} runs indexed)")
    return done
