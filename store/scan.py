"""Listing a store's run files cheaply, while writers add, seal and remove them.

Every file may appear, be renamed or disappear between a directory listing and the stat of
an entry (a writer seals its open segment into a Parquet twin and removes the IPC file many
times a minute; a run directory may be deleted): such a file is simply not part of this
listing. Each directory is stat'ed *before* it is listed, so anything that changed after the
listing also changed the recorded directory mtime, and the next catch-up looks again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from .journal import parse_journal_name
from .layout import parse_segment_name, project_dirs
from .syncmark import SYNC_FILE

#: a directory whose mtime is at least this old is trusted not to have changed unseen
#: (coarse mtime granularity on some network filesystems)
DIR_MTIME_SETTLE_NS = 2_000_000_000

Files = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)
_SUBDIRS = ("", "writers/", "history/")


def scan_files(root: Path, known: dict[str, Files] | None = None) -> dict[str, Files]:
    """run_key -> {relative path: (size, mtime_ns)} for every file that describes a run.

    Files are only ever added, renamed into place or removed - each changes its directory's
    mtime - except open segments, which grow in place. So a run whose three directories
    (itself, writers/, history/) kept their mtimes, and which had no open segment, is taken
    from `known` without listing it: three stats instead of three listings.

    A run directory is listed when it has a run.json, or data without one (a lost or
    unreadable run.json must not make a run vanish); an empty one is a run being created.
    """
    out: dict[str, Files] = {}
    known = known or {}
    settled = time.time_ns() - DIR_MTIME_SETTLE_NS
    for prefix, project in project_dirs(root):
        for run in _subdirs(str(project)):
            run_key = f"{prefix}/{run.name}"
            files = _scan_run(run.path, run_key, known.get(run_key), settled)
            if files is not None:
                out[run_key] = files
    return out


def scan_runs(root: Path, run_keys: Iterable[str]) -> dict[str, Files]:
    """scan_files for the named runs only (those still on disk): what a server that saw
    them change catches up, without listing the whole store."""
    out: dict[str, Files] = {}
    for run_key in run_keys:
        files = _scan_run(os.path.join(root, "runs", run_key), run_key, None, 0)
        if files is not None:
            out[run_key] = files
    return out


def _scan_run(path: str, run_key: str, prev: Files | None, settled: int) -> Files | None:
    base = f"runs/{run_key}/"
    dirs = {}
    for sub in _SUBDIRS:
        mtime = _mtime(path + "/" + sub)
        if mtime is not None:
            dirs[base + sub] = (0, mtime)
    if (
        prev is not None
        and all(prev.get(d) == v and v[1] < settled for d, v in dirs.items())
        and not any(k.endswith((".arrows", ".journal")) for k in prev)
    ):
        return prev
    files: Files = dict(dirs)
    for sub in _SUBDIRS:
        files.update(_list_run_files(path, base, sub))
    if base + "run.json" in files or len(dirs) > 1:
        return files
    return None


def _subdirs(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return [e for e in it if not e.name.startswith(".") and _is_dir(e)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_dir(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_dir()
    except OSError:
        return False


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None


def _list_run_files(run_dir: str, base: str, sub: str) -> Files:
    """The run files of one directory of a run that still exist when stat'ed."""
    out: Files = {}
    try:
        with os.scandir(run_dir + "/" + sub) as it:
            entries = list(it)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in entries:
        name = e.name
        if name.startswith("."):
            continue
        if sub == "" and name not in ("run.json", SYNC_FILE):
            continue
        if sub == "history/" and not (parse_segment_name(name) or parse_journal_name(name)):
            continue
        try:
            if not e.is_file():
                continue
            st = e.stat()
        except FileNotFoundError:
            continue  # sealed (renamed) or removed since the listing
        out[base + sub + name] = (st.st_size, st.st_mtime_ns)
    return out
