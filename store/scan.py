"""Listing a store's run files cheaply, while writers add, seal and remove them.

Every file may appear, be renamed or disappear between a directory listing and the stat of
an entry (a writer seals its open segment into a Parquet twin and removes the IPC file many
times a minute; a run directory may be deleted): such a file is simply not part of this
listing. Each directory is stat'ed *before* it is listed, so anything that changed after the
listing also changed the recorded directory mtime, and the next catch-up looks again.

A first build's listings and a stat pass go to threads when their first runs wait for the
disk (store/fan_out.py): on a cold disk or NFS each stat and listing is a read, or a round
trip, that would otherwise wait alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .fan_out import Pace, fan_out_if_slow
from .journal import parse_journal_name
from .layout import CREATE_WAIT, parse_segment_name, project_dirs
from .liveness import FAILED, FINISHED
from .syncmark import SYNC_FILE

#: a directory whose mtime is at least this old is trusted not to have changed unseen
#: (coarse mtime granularity on some network filesystems)
DIR_MTIME_SETTLE_NS = 2_000_000_000

CREATE_WAIT_NS = int(CREATE_WAIT * 1e9)

Files = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)
_SUBDIRS = ("", "writers/", "history/")
_OPEN = (".arrows", ".journal")


class Stamp(NamedTuple):
    """What a catch-up remembers of a run to tell, by stats alone, that it did not change:
    the mtimes of its three directories, whether it is `open` (listed again next time: it
    had files that grow in place - open segments, journals - or a directory changed within
    DIR_MTIME_SETTLE_NS of the listing, whose mtime a later change in the same coarse tick
    can leave as it was), and whether it was quiet (finished or failed, nothing open).

    A quiet run is looked at with two stats, of its own directory and of history/ (where
    `doctor --repair` quarantines a damaged segment, or a user deletes one): nothing changes
    its writers/ without also changing its directory (a resume rewrites run.json), except
    `doctor` recording a dead writer, and a run with one is not quiet (it is crashed).
    Every other run costs three stats, and one with open files a listing. (A named tuple: a
    live refresh reads the stamps of every run of the store every 2 s.)"""

    dirs: tuple[int | None, int | None, int | None]
    open: bool = False
    quiet: bool = False

    @classmethod
    def of(cls, run_key: str, files: Files, state: str | None, settled: int) -> Stamp:
        """From a listing whose directories older than `settled` (ns) are trusted."""
        base = f"runs/{run_key}/"
        dirs = tuple(files.get(base + sub, (0, None))[1] for sub in _SUBDIRS)
        is_open = any(k.endswith(_OPEN) for k in files) or any(
            d is not None and d >= settled for d in dirs
        )
        return cls(dirs, is_open, not is_open and state in (FINISHED, FAILED))  # type: ignore[arg-type]


@dataclass
class Scan:
    """One look at the store: every run on disk, and the files of those that may have
    changed since their stamps (all of them when there are no stamps)."""

    seen: set[str] = field(default_factory=set)
    listed: dict[str, Files] = field(default_factory=dict)
    #: directories with an older mtime (ns) are trusted not to have changed unseen
    settled: int = field(default_factory=lambda: time.time_ns() - DIR_MTIME_SETTLE_NS)
    #: whether the store's reads waited for the disk (store/fan_out.py): the runs' files
    #: are read on threads as its runs were listed
    pace: Pace = field(default_factory=Pace)
    #: runs seen but not listed, as `scan_store`'s `defer` chose: run_key -> its start
    deferred: dict[str, float] = field(default_factory=dict)


#: `scan_store`'s `defer`: of the runs the index has no stamp of, those to leave unlisted
#: (run_key -> start): a listing's first build knows them from their projects' ledgers
Defer = Callable[[list[str]], dict[str, float]]


def scan_store(
    root: Path, stamps: dict[str, Stamp] | None = None, defer: Defer | None = None
) -> Scan:
    """The runs of the store, listing only those whose stamp says they may have changed,
    and of those without a stamp, not those `defer` returns (`Scan.deferred`).

    Files are only ever added, renamed into place or removed - each changes its directory's
    mtime - except open segments and journals, which grow in place. A run directory is a
    run when it has a run.json, or data without one (a lost or unreadable run.json must not
    make a run vanish) that has not changed for CREATE_WAIT; an empty or younger one is a
    run being created."""
    out = Scan()
    stamps = stamps or {}
    todo: list[tuple[str, str]] = []  # (path, run_key) of the runs to list
    known: list[tuple[str, str, Stamp]] = []  # and of the runs to check by their stamps
    for prefix, project in project_dirs(root):
        for run in _subdirs(str(project)):
            run_key = f"{prefix}/{run.name}"
            prev = stamps.get(run_key)
            if prev is None:
                todo.append((run.path, run_key))
            else:
                known.append((run.path, run_key, prev))
    if defer is not None and todo:
        out.deferred = defer([k for _, k in todo])
        out.seen.update(out.deferred)
        todo = [(path, k) for path, k in todo if k not in out.deferred]
    with closing(fan_out_if_slow(_unchanged_at, known, out.pace)) as checks:
        for (path, run_key, _), same in zip(known, checks, strict=True):
            if same:
                out.seen.add(run_key)
            else:
                todo.append((path, run_key))
    _add_listings(out, todo)
    return out


def _add_listings(out: Scan, todo: list[tuple[str, str]]) -> None:
    """List the runs of `todo` (a first build's: every run; on threads if they wait for the
    disk, store/fan_out.py)."""
    with closing(fan_out_if_slow(_list_run_at, todo, out.pace)) as listings:
        for (_, run_key), files in zip(todo, listings, strict=True):
            if files is not None:
                out.seen.add(run_key)
                out.listed[run_key] = files


def _list_run_at(item: tuple[str, str]) -> Files | None:
    return _list_run(*item)


def _unchanged_at(item: tuple[str, str, Stamp]) -> bool:
    return _unchanged(item[0], item[2])


def scan_files(root: Path) -> dict[str, Files]:
    """run_key -> {relative path: (size, mtime_ns)} for every file that describes a run."""
    return scan_store(root).listed


def scan_runs(root: Path, run_keys: Iterable[str]) -> Scan:
    """scan_store for the named runs only (those still on disk): what a server that saw
    them change catches up, without listing the whole store."""
    out = Scan()
    _add_listings(out, [(os.path.join(root, "runs", k), k) for k in run_keys])
    return out


def unchanged_since(root: Path, stamps: dict[str, Stamp]) -> bool:
    """Whether the store holds exactly the runs of `stamps`, none changed since: by stats
    alone (two a quiet run), so a reader that kept an answer can keep showing it."""
    scan = scan_store(root, stamps)
    return not scan.listed and scan.seen == stamps.keys()


def _unchanged(path: str, prev: Stamp) -> bool:
    """Whether a run whose last catch-up left `prev` is the same, by two or three stats (a
    stamp is kept only of settled directories: an mtime equal to one is an old one). Run
    on every run of the store every 2 s of a live refresh: written out, not looped."""
    run_dir, writers, history = prev.dirs
    if prev.open or run_dir is None or _mtime(path + "/") != run_dir:
        return False
    if _mtime(path + "/history/") != history:
        return False
    return prev.quiet or _mtime(path + "/writers/") == writers


def _list_run(path: str, run_key: str) -> Files | None:
    base = f"runs/{run_key}/"
    dirs = {}
    for sub in _SUBDIRS:
        mtime = _mtime(path + "/" + sub)
        if mtime is not None:
            dirs[base + sub] = (0, mtime)
    files: Files = dict(dirs)
    for sub in _SUBDIRS:
        files.update(_list_run_files(path, base, sub))
    if base + "run.json" in files:
        return files
    # data without a run.json: a run whose run.json was lost (listed: its data must not
    # vanish), or one being created right now (its writers/ and history/ come before its
    # run.json): not a run until that would have been written (it listed as crashed)
    if len(dirs) > 1 and time.time_ns() - max(m for _, m in dirs.values()) > CREATE_WAIT_NS:
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
