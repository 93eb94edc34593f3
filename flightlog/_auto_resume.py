"""`resume="auto"` (wandb's `resume=True`): which run of this directory a new init()
continues, without an id: the one whose process did not end well, as wandb resumes a run
that "doesn't exit successfully" - a requeued Slurm job continues its run."""

from __future__ import annotations

import os
from pathlib import Path

from flightlog.store import iter_run_dirs
from flightlog.store.liveness import CRASHED, FAILED, HOSTNAME

#: the states resume="auto" continues: killed, or ended by an exception or a scheduler's
#: SIGTERM (preempted, at its time limit)
ENDED_BADLY = (CRASHED, FAILED)


def auto_resume_candidate(root: Path, project: str, entity: str | None) -> str | None:
    """The latest run of `project` (of `entity`, or from before runs had one) started from
    this directory on this host whose process did not end well: crashed, or failed (an
    exception, or the SIGTERM of a scheduler that preempts and requeues the job), as
    wandb's resume=True resumes a run that "doesn't exit successfully"."""
    cwd = os.getcwd()
    best: tuple[float, str] | None = None
    from flightlog.store.reader import StoredRun

    for paths in iter_run_dirs(root, project):
        if paths.address[0] not in (None, entity):
            continue
        stored = StoredRun.load(paths)
        if stored is None:
            continue
        m = stored.meta
        if m.get("cwd") != cwd or m.get("host") != HOSTNAME or stored.state not in ENDED_BADLY:
            continue
        key = (float(m.get("created_at") or 0), m["id"])
        if best is None or key > best:
            best = key
    return best[1] if best else None
