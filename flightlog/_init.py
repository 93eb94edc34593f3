"""`init()`: settings, resume rules, creating the run directory, starting the writer.

Offline (the default) never opens a network connection. The time budget is 10 ms at any
store size: nothing here lists the project, waits for a thread to start or for the disk
(no fsync), or imports duckdb, textual, httpx or watchdog; git, the writer's and the other
threads are started in the background (`Run._start_background`).
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from flightlog.store import (
    RunPaths,
    check_name,
    check_run_id,
    file_lock,
    new_writer_id,
)
from flightlog.store.atomic import atomic_write_json, read_json
from flightlog.store.file_lock import BUSY, GONE, RUN_LOCK, flocked
from flightlog.store.layout import CREATE_WAIT, find_run, project_dir
from flightlog.store.liveness import CRASHED, HOSTNAME, RUNNING, still_beating, writer_state
from flightlog.store.numbering import claim_run_number
from flightlog.store.run_ledger import append_created
from flightlog.store.runmeta import merged_list
from flightlog.store.segments import iter_segments
from flightlog.store.takeover import seal_abandoned
from flightlog.store.text import safe

from . import _state
from ._auto_resume import auto_resume_candidate
from ._config import jsonable
from ._config_file import config_defaults
from ._context import process_context
from ._errors import ResumeError, UsageError
from ._names import new_run_id, new_run_name
from ._run import Run
from ._run_finish import say
from ._settings import Settings, resolve, root_of
from ._validate import checked_config

DEFAULT_PROJECT = "uncategorized"

#: wandb.init() arguments accepted for compatibility and ignored (nothing to do offline)
IGNORED_ARGS = frozenset(
    {
        "save_code",
        "sync_tensorboard",
        "monitor_gym",
        "magic",
        "anonymous",
        "force",
        "tensorboard",
        "fork_from",
        "resume_from",
        "allow_val_change",
    }
)


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    id: str | None = None,
    config: Any = None,
    group: str | None = None,
    job_type: str | None = None,
    tags: Any = None,
    notes: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    resume: str | bool | None = None,
    reinit: str | bool | None = None,
    settings: Any = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run (or return the current one); see README for every argument."""
    unknown = set(kwargs) - IGNORED_ARGS
    if unknown:
        raise TypeError(f"init() got unexpected argument(s): {', '.join(sorted(unknown))}")
    s = resolve(  # every argument, setting and variable checked before anything is written
        dict(
            project=project,
            entity=entity,
            name=name,
            id=id,
            group=group,
            job_type=job_type,
            tags=tags,
            notes=notes,
            dir=dir,
            mode=mode,
            resume=resume,
            reinit=reinit,
        ),
        settings,
    )
    cfg = checked_config(config, config_include_keys, config_exclude_keys)
    cfg = {**config_defaults(), **cfg}  # wandb's config-defaults.yaml, under it
    current = _state.current()
    if current is not None:
        if s.reinit == "return_previous":
            given = dict(project=project, name=name, id=id, group=group, job_type=job_type)
            _warn_returned(current, {**given, "notes": notes, "tags": s.tags}, cfg)
            return current
        if s.reinit == "finish_previous":
            current.finish()
    run = _disabled_run(s, cfg) if s.mode == "disabled" else _start(s, cfg)
    if s.reinit != "create_new" or current is None:
        _state.set_current(run)
    if kwargs:
        from ._wandb_api import apply_init_extras

        apply_init_extras(run, kwargs)
    return run


def _warn_returned(current: Run, given: dict[str, Any], cfg: dict[str, Any]) -> None:
    """init() with a run active returns that run (reinit's default, as in wandb): say which
    of the arguments given here it ignores. A sweep loop that forgot run.finish() otherwise
    logs every trial into the first, under the first trial's config, and nothing says so."""
    meta = current._meta
    ignored = [
        k
        for k, v in given.items()
        if v is not None and meta.get(k) != (list(v) if k == "tags" else v)
    ]
    if any(current.config.get(k) != v for k, v in cfg.items()):
        ignored.append("config")
    if ignored:
        warnings.warn(
            f"flightlog: init() returned the run already active, {safe(current.name)} "
            f"({current.id}), and ignored the {', '.join(ignored)} given: call run.finish() "
            "before the next init(), or pass reinit='finish_previous' (or 'create_new' for "
            "runs side by side)",
            RuntimeWarning,
            stacklevel=3,
        )


def _disabled_run(s: Settings, cfg: dict[str, Any]) -> Run:
    meta = {
        "id": s.id or new_run_id(),
        "name": s.name or "disabled-run",
        "project": s.project or DEFAULT_PROJECT,
        "created_at": time.time(),
        "config": {k: jsonable(v) for k, v in cfg.items()},
    }
    return Run(s, meta, None)


def _start(s: Settings, cfg: dict[str, Any]) -> Run:
    root = root_of(s)
    project = check_name(s.project or DEFAULT_PROJECT, "project")
    if s.entity is not None:
        check_name(s.entity, "entity")
    run_id = check_run_id(s.id) if s.id else None
    if s.resume == "must" and run_id is None:
        raise ResumeError(
            "resume='must' continues an existing run and needs its id: pass id=... to init(), "
            "or set FLIGHTLOG_RUN_ID (or WANDB_RUN_ID)"
        )
    if s.resume == "auto" and run_id is None:
        run_id = auto_resume_candidate(root, project, s.entity)
    existing = find_run(root, project, run_id, s.entity) if run_id else None
    run = _resume(s, existing, cfg) if existing is not None and existing.meta.exists() else None
    if run is None:  # no such run (or deleted while this process waited to resume it)
        if s.resume == "must":
            raise ResumeError(
                f"resume='must' but run {run_id!r} does not exist in project {project!r} "
                f"of store {root}: check the id, project and FLIGHTLOG_DIR, or use "
                "resume='allow' to create it"
            )
        run = _create(s, root, project, run_id, cfg)
    if s.mode == "online":
        _go_online(s, root)
    where = run.dir
    say(f"run {run.name} ({run.id}) in {where} · view it: flightlog show {run.id} --root {root}", s)
    run._start_background()  # threads and git: last, and not waited for
    return run


def _create(s: Settings, root: Path, project: str, run_id: str | None, cfg: dict[str, Any]) -> Run:
    pdir = project_dir(root, project, s.entity)  # runs/@E/P for a run of an entity
    try:
        pdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _unwritable(pdir, e) from e
    while True:
        rid = run_id or new_run_id()
        paths = RunPaths.of(root, project, rid, s.entity)
        try:
            paths.dir.mkdir()
            break
        except FileExistsError:
            # another process is creating this run right now (or was: gone, try again)
            # (and resume it, unless it is deleted meanwhile: make it again)
            joined = _resume(s, paths, cfg) if run_id and _wait_for_meta(paths) else None
            if joined is not None:
                return joined
        except OSError as e:  # a project directory of the store this user may not write
            raise _unwritable(paths.dir, e) from e
    try:
        return _new_run(s, pdir, paths, project, cfg)
    except BaseException:
        # cut short (Ctrl-C, a signal handler's exception) before run.json: no run is there,
        # and its directory would keep the id taken, a rerun waiting CREATE_WAIT for nothing
        if not paths.meta.exists():
            shutil.rmtree(paths.dir, ignore_errors=True)
        raise


def _new_run(s: Settings, pdir: Path, paths: RunPaths, project: str, cfg: dict[str, Any]) -> Run:
    """The new run in its directory `paths`, just made: run.json and this process's writer."""
    rid = paths.dir.name
    number = claim_run_number(pdir, rid)  # O(1), unique across processes
    meta: dict[str, Any] = {
        "schema": 1,
        "id": rid,
        "name": s.name or new_run_name(number),
        "number": number,
        "project": project,
        "entity": s.entity,
        "group": s.group,
        "job_type": s.job_type,
        "tags": list(s.tags or ()),
        "notes": s.notes,
        "created_at": time.time(),
        "config": {k: jsonable(v) for k, v in cfg.items()},
        "metrics": [],
        "git": None,
        "resumed": 0,
        **({"online": True} if s.mode == "online" and _signed_in(s) else {}),
        **process_context(),
    }
    run = Run(s, meta, paths)
    run._start_writer(new_writer_id(), create=True)
    append_created(pdir, rid, meta["created_at"])  # after run.json: what listings order by
    return run


def _unwritable(where: Path, e: OSError) -> UsageError:
    return UsageError(
        f"cannot create the store at {where}: {e.strerror or e}. Set FLIGHTLOG_DIR "
        "or init(dir=...) to a writable directory"
    )


def _wait_for_meta(paths: RunPaths) -> bool:
    """The run directory exists: wait until its creator has written run.json (True), or
    removed the directory, cut short (False)."""
    deadline = time.monotonic() + CREATE_WAIT
    while not paths.meta.exists():
        if not paths.dir.exists():
            return False
        if time.monotonic() > deadline:
            raise ResumeError(
                f"run directory {paths.dir} has had no run.json for {CREATE_WAIT:.0f} s: the "
                "process creating it died. Remove that directory or choose another id"
            )
        time.sleep(0.01)
    return True


def _resume(s: Settings, paths: RunPaths, cfg: dict[str, Any]) -> Run | None:
    """`_join_existing` under the run's lock, shared (store/file_lock.py RUN_LOCK), from
    before its run.json is read until this process's writer is on record as live: a delete
    (which takes it exclusive) waits for that and then refuses, a live writer being there;
    or, deleting already, it is waited for, and the run is gone (None: a new one is made).
    Without the lock, a delete saw no writer alive while the resume read the run, and the
    resume either failed or wrote the run back without its history. A lock not had in
    LOCK_WAIT seconds (a delete's process stopped?) is gone on without: init never blocks
    training for long."""

    def waiting() -> None:
        say(
            f"run {paths.dir.name} is being deleted by another process (it holds "
            f"{paths.dir / RUN_LOCK}): waiting up to {file_lock.LOCK_WAIT:.0f} s before "
            "resuming it",
            s,
        )

    with flocked(paths.dir / RUN_LOCK, shared=True, waiting=waiting) as held:
        if held == BUSY:
            say(
                f"run {paths.dir.name}: its lock is still held after "
                f"{file_lock.LOCK_WAIT:.0f} s (the deleting process stopped?); resuming it "
                "without",
                s,
            )
        if held == GONE or not paths.meta.exists():
            return None
        return _join_existing(s, paths, cfg)


def _join_existing(s: Settings, paths: RunPaths, cfg: dict[str, Any]) -> Run:
    """Resume a stopped run (new generation, steps continue) or join a live one (shared)."""
    from flightlog.store.history_fold import HistoryFold
    from flightlog.store.reader import StoredRun  # numpy: only when a run is resumed

    stored = StoredRun.load(paths)
    if stored is None:
        raise ResumeError(f"run directory {paths.dir} has no readable run.json")
    live = [w for w in stored.writers if writer_state(w) == RUNNING]
    if s.resume in (None, "never") and s.mode != "shared":
        raise ResumeError(
            f"run {stored.meta['id']!r} already exists in project {stored.meta['project']!r}: "
            "pass resume='allow' to continue it, mode='shared' to log into it from several "
            "processes, or choose another id"
        )
    elsewhere = [w for w in live if w.get("host") != HOSTNAME]
    if elsewhere and s.mode != "shared":  # a resume: is the writer of another host there?
        say(
            f"run {stored.meta['id']} has a writer on host {safe(str(elsewhere[0].get('host')))} "
            "whose last heartbeat is recent: waiting a few seconds for the next one "
            "(none: it died there, and this run resumes; one: this process joins it)",
            s,
        )
        live = still_beating(live, lambda w: _read_writer(paths, w))
    meta = dict(stored.meta)
    if live:  # shared: another process is writing this run right now
        generation = max(int(w.get("generation", 0)) for w in live)
        # after the earlier generations' rows, as the writer it joins (each rank of a
        # requeued job resumes, a moment apart: the first resumes, the others join it)
        earlier = {
            w.get("writer") for w in stored.writers if int(w.get("generation", 0)) < generation
        }
        # and with their figures: a key only this rank logs (define_metric(k, "min")) is
        # summarised over every job's rows, not this job's alone. Stored rows only: a
        # killed writer's recorded step may run ahead of its files, and one killed inside
        # finish() has already recorded itself finished. None (ranks of a first job joining
        # the first to start): nothing to read, however long the live run is already
        fold = HistoryFold()
        if earlier:
            fold.add_all(part for part in iter_segments(paths.history) if part[0].writer in earlier)
        first_step = fold.last_step + 1
        past, _ = fold.resumed({})
        base_summary: dict[str, Any] = {}
    else:
        generation = max((int(w.get("generation", 0)) for w in stored.writers), default=-1) + 1
        _mark_crashed(paths, stored.writers)
        seal_abandoned(paths, stored.writers)  # a stalled writer's segments stay its own
        fold = HistoryFold().add_all(iter_segments(paths.history))
        first_step = fold.last_step + 1
        past, base_summary = fold.resumed(stored.summary)
        meta["resumed"] = int(meta.get("resumed", 0)) + 1
        meta["resumed_at"] = time.time()
    meta["config"] = {**(meta.get("config") or {}), **{k: jsonable(v) for k, v in cfg.items()}}
    for key in ("name", "notes", "group", "job_type"):
        if getattr(s, key) is not None:
            meta[key] = getattr(s, key)
    if s.tags is not None:  # added to the run's: each rank of a shared run gives its own
        meta["tags"] = merged_list(meta.get("tags"), list(s.tags))
    run = Run(
        s,
        meta,
        paths,
        first_step=first_step,
        generation=generation,
        base_summary=base_summary,
        past=past,
    )
    run._join_changes(stored.meta)
    run._start_writer(new_writer_id())
    return run


def _mark_crashed(paths: RunPaths, writers: list[dict[str, Any]]) -> None:
    """Writers that died without finishing are recorded as crashed before a resume: every one
    whose file still says running (a writer of another host that looked alive was watched
    first, `still_beating`, and beat no more)."""
    for w in writers:
        now = _read_writer(paths, w) if w.get("writer") else None
        if now is not None and now.get("state") == RUNNING:
            atomic_write_json(paths.writer_state(w["writer"]), {**now, "state": CRASHED})


def _read_writer(paths: RunPaths, w: dict[str, Any]) -> dict[str, Any] | None:
    """Writer `w`'s state file as it is now."""
    return read_json(paths.writer_state(str(w.get("writer"))))


_noted: set[str] = set()


def _signed_in(s: Settings) -> bool:
    """Whether an online run has a key to sync with: without one it is stored offline, and
    listed `local`, not `pending`."""
    from flightlog.sync import credentials

    return bool(s.api_key or credentials.load(base_url=s.base_url).logged_in)


def _go_online(s: Settings, root: Path) -> None:
    """Make sure the store's sync agent runs; this process itself never talks to the server.

    Any failure leaves the run offline (nothing lost) with one warning saying what to do."""
    from flightlog.sync import credentials
    from flightlog.sync.launch import ensure_agent

    creds = credentials.load(base_url=s.base_url)
    if not _signed_in(s):
        _note_once(
            "online",
            f"{creds.how_to_sign_in}. This run is stored offline: `flightlog sync --all` "
            "uploads it once signed in",
            s,
        )
        return
    problem = ensure_agent(root, s.api_key, s.base_url)
    if problem is not None and "agent" not in _noted:
        _noted.add("agent")
        warnings.warn(f"flightlog: {problem}", RuntimeWarning, stacklevel=4)


def _note_once(topic: str, message: str, s: Settings) -> None:
    if topic not in _noted:
        _noted.add(topic)
        say(message, s)
