"""Describing a big cold build's runs on two cores: most of them in a forked child.

A listing's first build of a big store spends ~0.2 ms a run in Python (reading and parsing
run.json and the writers' state, coercing fields into rows): 2 s at 10,000 runs, on one
core. A child forked after the scan describes 3/5 of the runs while this process describes
the rest (it inserts every batch too), and sends its rows back through a pipe (pickled: ~5%
of the work it saves), when a core is idle: on busy cores it only competes with this process.
The child only reads files and builds tuples; it never touches DuckDB, the UI or a lock. If
it fails in any way, this process describes its runs itself: the rows are the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from .index_tables import Rows

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

#: changed runs above which a build splits (a fork and the pickled rows cost ~50 ms)
SPLIT_OVER = 2000

#: describes runs into rows: (their rows, how many segments it read); its second argument
#: is how many runs were described before them (for progress), None in the child
Describe = Callable[[Sequence[str], int | None], tuple[Rows, int]]
Batches = Iterator[tuple[Sequence[str], Rows, int]]


def describe_batches(keys: Sequence[str], batch: int, describe: Describe, split: bool) -> Batches:
    """(runs, their rows, segments read) for `keys`, `batch` runs at a time; `split`: the
    last 3/5 are described by a forked child meanwhile (when fork is there and a core is
    idle; else here)."""
    if not split or len(keys) <= SPLIT_OVER or not _idle_core():
        yield from _here(keys, 0, batch, describe)
        return
    import multiprocessing  # only here: every command imports this module

    # this process also inserts every batch (~a third of describing them): it keeps 2/5
    half = len(keys) * 2 // 5
    theirs = _chunks(keys[half:], batch)
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, theirs, describe), daemon=True)
    child.start()
    send.close()
    try:
        yield from _here(keys[:half], 0, batch, describe)
        try:
            described = recv.recv()
        except (EOFError, OSError):  # the child died: its runs are described here
            yield from _here(keys[half:], half, batch, describe)
            return
        for chunk, (rows, n) in zip(theirs, described, strict=True):
            yield chunk, rows, n
    finally:
        recv.close()
        if child.is_alive():
            child.kill()
        child.join()


def _chunks(keys: Sequence[str], batch: int) -> list[Sequence[str]]:
    return [keys[i : i + batch] for i in range(0, len(keys), batch)]


def _here(keys: Sequence[str], before: int, batch: int, describe: Describe) -> Batches:
    for i, chunk in enumerate(_chunks(keys, batch)):
        rows, n = describe(chunk, before + i * batch)
        yield chunk, rows, n


def _child(send: Connection, chunks: list[Sequence[str]], describe: Describe) -> None:
    try:
        send.send([describe(chunk, None) for chunk in chunks])
    finally:
        send.close()


def _idle_core() -> bool:
    """Whether a second core is there and idle: on a machine whose cores are busy, a child
    only competes with this process (10,000 runs at load 10 on 2 cores: 3.5-5.9 s split,
    3.1-3.8 s not)."""
    if not hasattr(os, "fork"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call (macOS)
        cores = os.cpu_count() or 1
    return cores > 1 and os.getloadavg()[0] <= cores - 1
