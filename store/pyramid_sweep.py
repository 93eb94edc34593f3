"""Chart sidecars (store/pyramid.py) no segment of the store needs any more: what `flightlog
doctor` reports as orphan-pyramid and `--repair` removes, a cache that would otherwise grow
forever as runs are deleted."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .layout import parse_segment_name, project_dirs, runs_dir
from .pyramid import pyramid_dir


def orphans(root: Path, idle_seconds: float) -> list[Path]:
    """The sidecars of `root` whose segment is in no run of the store (the run or the
    segment was deleted, or moved to quarantine), and the temp files of a builder that
    stopped (untouched for `idle_seconds`; a younger one is being written).

    Sidecars are listed before segments: a sidecar is written only once its segment is
    sealed, so a sidecar this listing sees has its segment in the later listing unless that
    segment is gone, and one built meanwhile is not seen. Removing a sidecar never costs a
    wrong value anyway: a reader that opened it reads on, one that finds it gone rebuilds it."""
    if not runs_dir(root).is_dir():
        return []  # no runs to judge by (not a store, or its runs are not mounted)
    cutoff = time.time() - idle_seconds
    sidecars: dict[str, Path] = {}
    stale: list[Path] = []
    for sub in _dirs(pyramid_dir(root)):
        for entry in _names(sub):
            path = sub / entry
            if entry.startswith(".") and entry.endswith(".tmp"):
                if _mtime(path) < cutoff:
                    stale.append(path)
            elif len(entry) == 64 and entry.startswith(sub.name):
                sidecars[entry] = path
    kept = _sealed_digests(root)
    return sorted(p for sha, p in sidecars.items() if sha not in kept) + sorted(stale)


def _sealed_digests(root: Path) -> set[str]:
    """The sha256 of every sealed segment under the store's run directories (with or
    without a readable run.json: a damaged run's segments keep their sidecars)."""
    out: set[str] = set()
    for _, project in project_dirs(root):
        for run in _dirs(project):
            for entry in _names(run / "history") + _names(run / "system"):
                name = parse_segment_name(entry)
                if name is not None and name.sha256:
                    out.add(name.sha256)
    return out


def _dirs(path: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _names(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()  # renamed into place meanwhile: not a stale one
