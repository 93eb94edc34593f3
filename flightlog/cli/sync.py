"""`flightlog login`, `logout` and `sync`: the sending end, over flightlog.sync."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import console, root, safe

if TYPE_CHECKING:
    from flightlog.sync.client import ServerClient
    from flightlog.sync.credentials import Credentials
    from flightlog.sync.uploader import RunSync


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "login",
        help="check an API key against a server and store it (mode 0600)",
        description="Example: flightlog login --host http://gpu-login:8080 "
        "(the key is read from the terminal, or given as KEY, or from FLIGHTLOG_API_KEY)",
    )
    p.add_argument("key", nargs="?", metavar="KEY", help="the API key (prompted for if omitted)")
    p.add_argument(
        "--host",
        metavar="URL",
        help="the server (default: the last one, or FLIGHTLOG_BASE_URL, or http://127.0.0.1:8080)",
    )
    p.set_defaults(func=cmd_login)

    p = sub.add_parser(
        "logout",
        help="forget the stored API key",
        description="Example: flightlog logout --host http://gpu-login:8080",
    )
    p.add_argument("--host", metavar="URL", help="the server (default: the last one)")
    p.set_defaults(func=cmd_logout)

    p = sub.add_parser(
        "sync",
        parents=[common],
        help="upload runs to the server (once, or --watch as an agent)",
        description="Uploads the sealed segments the server does not have yet; a run is "
        "marked synced once the server confirmed all of it. Examples: "
        "flightlog sync flightlog/runs/offline-demo/1a2b3c4d · flightlog sync --all · "
        "flightlog sync --watch --poll 5",
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="run directories, run ids or names (with --watch: the store ROOT)",
    )
    p.add_argument("--all", action="store_true", help="every run of the store")
    p.add_argument("--project", metavar="P", help="every run of project P")
    p.add_argument(
        "--entity", metavar="E", help="sync to entity E (default: the run's entity, else your user)"
    )
    p.add_argument(
        "--watch", action="store_true", help="keep running: ship new segments as they are sealed"
    )
    p.add_argument(
        "--poll",
        type=float,
        metavar="SECONDS",
        help="with --watch: poll the files (NFS/Lustre) instead of inotify",
    )
    p.add_argument("--idle-exit", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_sync)


def cmd_login(args: argparse.Namespace) -> int:
    from flightlog._errors import ServerUnavailableError
    from flightlog.sync import credentials
    from flightlog.sync.client import ServerClient

    from .sync_report import Stalls, watching

    current = credentials.load(base_url=args.host)
    key = args.key or (current.api_key if current.source == "env" else None)
    if not key:
        if not sys.stdin.isatty():
            key = sys.stdin.readline().strip()
        else:
            key = getpass.getpass(f"API key for {current.shown} (not echoed): ").strip()
    if not key:
        raise ValueError(
            "no API key given: pass KEY, type it at the prompt, or set FLIGHTLOG_API_KEY"
        )
    creds = credentials.Credentials(current.base_url, key, "typed")  # checked before stored
    with ServerClient(creds, retries=1) as client:
        said = Stalls(client, _stderr, "the key is stored once the server answers")
        try:
            with watching(said.check):
                who = client.whoami()
        except ServerUnavailableError as e:  # not the client's advice to sync again
            raise ServerUnavailableError(
                f"cannot check the key: {e.reason}; nothing was stored. Run `flightlog login` "
                "again when the server is up",
                reason=e.reason,
            ) from None
    try:
        path = credentials.save(creds.base_url, key, user=str(who["user"]))
    except OSError as e:  # a config dir this user may not write (a shared or read-only home)
        where = credentials.config_dir()
        raise OSError(
            f"the key is good, but it cannot be stored in {where}: {e.strerror or e}. Set "
            "FLIGHTLOG_CONFIG_DIR to a directory you may write, or give the key to each job "
            "as FLIGHTLOG_API_KEY"
        ) from None
    print(f"logged in to {creds.shown} as {who['user']} (key stored in {path})")
    return 0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_logout(args: argparse.Namespace) -> int:
    from flightlog.sync import credentials

    url = credentials.forget(args.host)
    if url is None:
        print("no stored key to forget")
    else:
        print(f"logged out of {url}")
    return 0


def _targets(args: argparse.Namespace) -> list[Path]:
    """The run directories named on the command line: paths of runs or stores, run ids or
    names (looked up in --root), or every run of the store or a project."""
    from flightlog.store.layout import iter_run_dirs

    store = root(args)
    if args.all or args.project:
        runs = [p.dir for p in iter_run_dirs(store, args.project)]
        if not runs:
            raise FileNotFoundError(
                f"no runs in {store}" + (f" project {args.project!r}" if args.project else "")
            )
        return sorted(runs)
    if not args.runs:
        raise ValueError(
            "name runs to sync (a run directory, id or name), or use --all / --project P"
        )
    dirs = []
    for ref in args.runs:
        p = Path(ref)
        if (p / "run.json").is_file():
            dirs.append(p.resolve())
        elif (p / "runs").is_dir():
            dirs.extend(sorted(r.dir for r in iter_run_dirs(p)))
        else:
            from flightlog.store.catalog import resolve_run

            from ._common import open_index

            with open_index(args) as idx:
                dirs.append(Path(resolve_run(idx, ref)["dir"]))
    return dirs


def cmd_sync(args: argparse.Namespace) -> int:
    from flightlog.sync import credentials
    from flightlog.sync.client import ServerClient

    creds = credentials.load()
    if args.watch:
        return _watch(args, creds)
    dirs = _targets(args)
    if not creds.logged_in:  # said before a line naming a server (the default's, maybe)
        from flightlog._errors import NotLoggedInError

        raise NotLoggedInError(creds.how_to_sign_in)
    with ServerClient(creds) as client:
        return _sync_once(client, dirs, args.entity)


def _sync_once(client: ServerClient, dirs: list[Path], entity: str | None) -> int:
    """Sync each run once; a run the server refuses does not stop the others."""
    from flightlog._errors import ServerStorageFullError, ServerUnavailableError
    from flightlog.store.layout import RunPaths
    from flightlog.sync.sync_many import sync_many
    from flightlog.sync.uploader import (
        NO_REQUEST_CAN_WORK,
        Entities,
        RunGone,
        forget_lost,
        load_local,
        up_to_date,
    )

    from .sync_report import SyncReport

    locals_, failed = [], []
    for d in dirs:
        try:
            locals_.append(load_local(RunPaths(d)))
        except RunGone as e:  # deleted since the store was listed
            failed.append((f"{d.parent.name}/{d.name}", str(e.strerror)))
        except ValueError as e:  # a file of it cannot be read as flightlog writes it: the
            # others are shipped all the same (as the agent does)
            why = f"cannot be read ({e}); skipped, `flightlog doctor` says what is wrong"
            failed.append((f"{d.parent.name}/{d.name}", why))
    entities = Entities(client, entity)
    total_mb = sum(lr.total_bytes() for lr in locals_) / 1e6
    total_segments = sum(len(ps) for lr in locals_ for ps in lr.sealed.values())
    out = console()
    done, pending, sent, sent_bytes = [], [], 0, 0
    blobs = {"files": 0, "bytes": 0}
    unavailable: ServerUnavailableError | None = None
    server = client.shown
    with SyncReport(client, out, len(locals_), total_segments, total_mb) as report:
        lost = forget_lost(client, locals_, entities)
        if lost:
            print(
                f"flightlog: {lost} run(s) marked synced are not on {server} any more "
                "(deleted there, or the server restored from a backup): sending them again, "
                "whole; to keep a run deleted there, delete it here too",
                file=sys.stderr,
            )
        for lr, r, e in sync_many(client, locals_, entities, report.on_bytes):
            if isinstance(e, NO_REQUEST_CAN_WORK):
                raise e  # nothing else can work either: one line, non-zero exit
            if isinstance(e, ServerUnavailableError) and unavailable is None:
                unavailable = e
            if e is not None:
                failed.append((lr.key, _partly(r, e)))
            else:
                (done if r.complete else pending).append((lr.key, ", ".join(r.pending)))
            sent += r.sent
            sent_bytes += r.bytes
            blobs["files"] += r.blobs
            blobs["bytes"] += r.blob_bytes
            report.run_done()
        if unavailable is not None:
            why = (
                "the server is out of disk space: free space on it, then `flightlog sync` again"
                if isinstance(unavailable, ServerStorageFullError)
                else "the server is unreachable"
            )
            for o in locals_[report.tried :]:  # what needs no request is done all the same
                if up_to_date(o, client.creds.base_url, entities.known(o)):
                    done.append((o.key, ""))
                else:
                    failed.append((o.key, f"not tried: {why}"))
    secs = time.monotonic() - report.start
    out.print(
        f"synced {len(done)} run(s) to {server}: {sent} segment(s) sent, "
        f"{sent_bytes / 1e6:.2f} MB, {blobs['files']} file(s) {blobs['bytes'] / 1e6:.2f} MB "
        f"in {secs:.1f} s"
        + (f"; {len(pending)} partly (still being written)" if pending else "")
        + (f"; {len(failed)} failed" if failed else "")
    )
    for key, why in pending:
        out.print(safe(f"  partly: {key}: {why}"), markup=False)
    for key, why in failed:
        out.print(safe(f"  failed: {key}: {why}"), style="red", markup=False)
    return 1 if failed else 0


def _partly(r: RunSync, e: Exception) -> str:
    """Why a run failed, and what of it the server did store before that."""
    return (f"{r.sent} segment(s) stored before: " if r.sent else "") + str(e)


def _watch(args: argparse.Namespace, creds: Credentials) -> int:
    import signal

    from flightlog.sync.agent import Agent
    from flightlog.sync.client import ServerClient
    from flightlog.sync.lock import AgentLock, AgentRunningError

    store = Path(args.runs[0]) if args.runs else root(args)
    lock = AgentLock(store)
    try:
        lock.acquire()
    except AgentRunningError as e:  # it names the running agent; say what to do
        raise RuntimeError(
            f"{e}: it ships this store already, so there is nothing to start; to run one "
            f"with other options (--poll, --entity), stop it with {e.kill} and run this again"
        ) from None
    client = ServerClient(creds, retries=0, timeout=15.0)  # the agent's backoff retries

    def log(message: str) -> None:
        print(time.strftime("%Y-%m-%d %H:%M:%S"), message, flush=True)

    agent = Agent(
        store, client, entity=args.entity, poll=args.poll, idle_exit=args.idle_exit, log=log
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    log(
        f"sync agent for {store} -> {creds.shown} "
        f"({f'polling every {args.poll:g} s' if args.poll else 'file events'})"
    )
    try:
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        lock.release()
    return 0
