"""`flightlog index` and `flightlog doctor`: keeping a store healthy."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._common import console, root, safe
from .reads import add_host


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tui",
        parents=[common],
        help="the terminal UI (also: plain `flightlog`)",
        description="Browse, filter, inspect and compare runs, live. "
        "Example: flightlog tui sample_runs",
    )
    p.add_argument(
        "store", nargs="?", metavar="ROOT", help="the store (same as --root), or a server's URL"
    )
    add_host(p)
    p.set_defaults(func=cmd_tui)

    p = sub.add_parser(
        "index",
        parents=[common],
        help="catch up (or --rebuild) index.duckdb",
        description="Example: flightlog index --rebuild",
    )
    p.add_argument("--rebuild", action="store_true", help="delete the index and build it again")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check a store; --repair fixes it",
        description="Finds corrupt or truncated segments, unsealed segments of "
        "dead runs, orphan files, chart summaries of deleted segments and a stale index. "
        "--repair seals what can be recovered, removes those summaries (a cache) and moves "
        "the rest to quarantine/ (no data is deleted). Example: flightlog doctor --repair",
    )
    p.add_argument("--repair", action="store_true")
    p.set_defaults(func=cmd_doctor)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    out = console()
    if not out.is_terminal:  # a job's log or a pipe: a bar draws nothing there but a blank line
        yield lambda done, total: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def cmd_index(args: argparse.Namespace) -> int:
    from flightlog.store.index import Index, rebuild

    r = root(args)
    if not (r / "runs").is_dir():
        raise FileNotFoundError(f"no flightlog store at {r}: pass --root DIR")
    with _progress("indexing runs") as update:
        if args.rebuild:
            stats = rebuild(r, progress=update)
        else:
            with Index(r, progress=update) as idx:
                stats = idx.last
    print(
        f"{stats.runs_seen} runs, {stats.runs_indexed} (re)indexed, {stats.runs_removed} "
        f"removed, {stats.segments_read} segments read in {stats.seconds:.2f}s "
        f"({stats.source})"
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from flightlog.store.doctor import WAITING, check, repair

    r = root(args)
    if not (r / "runs").is_dir():
        raise FileNotFoundError(f"no flightlog store at {r}: pass --root DIR")
    with _progress("checking runs") as update:
        problems = check(r, progress=update)
    faults = [p for p in problems if p.kind not in WAITING]
    for p in problems:
        print(safe(p.line(r)))
    if not args.repair:
        if waiting := len(problems) - len(faults):
            print(
                f"{waiting} of these {'is' if waiting == 1 else 'are'} no fault: rows waiting "
                "to be sealed into segments "
                "and an index behind the files are read as they are; `flightlog doctor "
                "--repair` (or `flightlog sync`, the sync agent, the next read) does that work"
            )
        if not faults:
            print(f"{r}: no problems found")
            return 0
        print(
            f"{len(faults)} problem(s); run `flightlog doctor --repair` to fix them "
            "(no data is deleted)"
        )
        return 1
    for line in repair(r, problems):
        print(safe(line))
    left = [p for p in check(r) if p.kind != "stale-index"]
    print(f"repaired; {len(left)} problem(s) left")
    return 1 if left else 0


def _remote_source(url: str) -> Any:
    """The server at `url` for the UI; no key is a one-line error before the UI starts (a
    server that is down is not: the UI says so and catches up when it is back)."""
    from flightlog._errors import ServerUnavailableError
    from flightlog.sync.remote import RemoteReader
    from flightlog.tui.remote_source import RemoteSource

    reader = RemoteReader(url)
    try:
        reader.client.whoami()
    except ServerUnavailableError:
        pass
    return RemoteSource(reader)


def cmd_tui(args: argparse.Namespace) -> int:
    from flightlog.tui import run

    url = getattr(args, "host", None)
    if not url and args.store and args.store.startswith(("http://", "https://")):
        url = args.store
    if url:
        return run(_remote_source(url))
    r = root(args) if not args.store else root(argparse.Namespace(root=args.store))
    if not r.is_dir():
        raise FileNotFoundError(f"no flightlog store at {r}: pass a directory that holds runs/")
    return run(r)
