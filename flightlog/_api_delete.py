"""Deleting a run (wandb's `Run.delete()`), from a local store or, through the server's
DELETE route (sync/run_delete_routes.py), from a server's.

Safe by construction:

- Only the run's own directory goes (`runs/[@entity/]project/id`, checked to be where the
  store keeps that run). A directory that is a link is unlinked, never followed. Blobs and
  artifact versions are stored by content, shared with other runs, and stay.
- A run whose writer is alive is refused: its process would go on writing into a directory
  that is gone. So is one a process is resuming (it holds the run's lock, RUN_LOCK, shared,
  until its writer is on record: a delete takes it exclusive, waits LOCK_WAIT seconds for
  it, and refuses if it is still held; a resume that starts meanwhile waits for the delete
  and then finds no run). A crashed run (its process dead, or silent past the heartbeat
  limit) and a finished or failed one are deleted.
- The directory is first renamed to a hidden name at the store's root, out of runs/, one
  atomic rename: listings, the index and the UI never see half a run, and the run is gone
  from them at their next read (the index drops a run whose directory is gone when it
  catches up). Out of runs/, because the store's sync agent watches that tree: a rename
  within it showed the agent the run's files under a new run directory (which it tried to
  ship), and the run's own path changed (it shipped the run as it then was, nothing: the
  server's copy lost its name and config). Then the hidden copy is removed; if that is
  interrupted, what is left is a hidden directory nothing lists.
- The store's index is caught up with that one run at once (`forget`): a UI's first paint
  shows the index as it was last read, before its catch-up looks at the files.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from pathlib import Path

from flightlog.store.file_lock import BUSY, GONE, RUN_LOCK, flocked
from flightlog.store.layout import RunPaths, run_key
from flightlog.store.liveness import HOSTNAME, RUNNING, STALE_AFTER, writer_state
from flightlog.store.reader import StoredRun
from flightlog.store.text import safe

from ._errors import NotFoundError, UsageError

#: the prefix of a run directory being removed, at the store's root (names starting with "."
#: are skipped by listings)
HIDDEN = ".deleting-"


class RunRunningError(UsageError):
    """A run still being written cannot be deleted."""


def still_running(run: StoredRun, shown: str) -> str | None:
    """Why run `shown` may not be deleted yet: its live writers, each with what to do
    (None: it may be). A writer of this host is alive by its pid: finish or stop it. One of
    another host is taken for alive while its heartbeat is recent, also after its process
    died there (a node lost, a job killed): when it turns crashed, and so deletable, is
    said, not "stop that process" (there may be none)."""
    now = time.time()
    here, there = [], []
    for w in run.writers:
        if writer_state(w, now) != RUNNING:
            continue
        who = f"pid {safe(w.get('pid'))} on {safe(w.get('host'))}"
        if w.get("host") == HOSTNAME and isinstance(w.get("pid"), int):
            here.append(who)
        else:
            beat = float(w["heartbeat_at"])  # a number: else writer_state says crashed
            stale = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(beat + STALE_AFTER))
            there.append(
                f"the writer {who} last beat {max(0.0, now - beat):.0f} s ago; it counts as "
                f"crashed once its heartbeat is {STALE_AFTER:.0f} s old, at {stale} (in "
                f"{max(0.0, beat + STALE_AFTER - now):.0f} s): if that process died, retry "
                "then; if it still runs, finish it (run.finish()) or stop it first"
            )
    if here:
        there.insert(
            0, f"{', '.join(here)}, alive: finish it (run.finish()) or stop that process first"
        )
    if not there:
        return None
    return f"run {shown} is still running: {'; '.join(there)}. A crashed run can be deleted"


def delete_run(paths: RunPaths, shown: str) -> None:
    """Remove the run in `paths` (named `shown` in messages) from its store, if no writer
    of it is alive (see the module's docstring)."""
    with flocked(paths.dir / RUN_LOCK) as held:  # no process resumes it meanwhile
        if held == BUSY:
            raise RunRunningError(
                f"run {shown} is being resumed (or, on a server, uploaded to) by another "
                "process, which holds the run's lock: nothing was deleted; try again in a "
                "moment, and if it resumed the run, finish it or stop it first"
            )
        run = StoredRun.load_any(paths)  # its writers as they are now, not as first read
        if held == GONE or not paths.dir.is_dir() or not paths.meta.exists():
            raise NotFoundError(f"no run {shown} in {paths.root}: it may be deleted already")
        if (why := still_running(run, shown)) is not None:
            raise RunRunningError(why)
        _check_place(paths, run)
        hidden = _hide(paths)
    if hidden.is_symlink():
        hidden.unlink()
    else:
        shutil.rmtree(hidden)
    forget(paths)


def _hide(paths: RunPaths) -> Path:
    """Rename the run's directory (a link: the link itself, what it points to stays) to a
    hidden name at the store's root; beside it when runs/ is on another file system."""
    name = f"{HIDDEN}{paths.dir.name}-{secrets.token_hex(4)}"
    hidden = Path(paths.root) / name
    try:
        os.rename(paths.dir, hidden)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        hidden = paths.dir.with_name(name)
        os.rename(paths.dir, hidden)
    return hidden


def forget(paths: RunPaths) -> None:
    """Catch the store's index up with the run in `paths`, gone (none built: nothing to
    do). Another process holding the index leaves it to that reader's next catch-up."""
    from flightlog.store.index import INDEX_FILE, Index

    if not (paths.root / INDEX_FILE).is_file():
        return
    entity, project, run_id = paths.address
    with Index(paths.root, fresh=False) as idx:
        idx.catch_up(run_keys=[run_key(project, run_id, entity)])


def _check_place(paths: RunPaths, run: StoredRun) -> None:
    """Refuse a directory that is not the store's place of this run: under no runs/ of the
    store (a project directory linked from elsewhere), or named for another id than its
    run.json's (a copy made by hand, which may share files with the run it copies)."""
    runs = (Path(paths.root) / "runs").resolve()
    if not paths.dir.parent.resolve().is_relative_to(runs):
        raise UsageError(
            f"{paths.dir} is outside {runs} once its links are followed: nothing was "
            "deleted; remove it by hand if it is not wanted"
        )
    said = str(run.meta.get("id", paths.dir.name))
    if said != paths.dir.name:
        raise UsageError(
            f"{paths.dir} holds run {said!r} (its run.json says), not {paths.dir.name!r}: "
            "a copy made by hand? nothing was deleted; remove it by hand if it is not wanted"
        )
