"""Many small reads at once: a cold index build's per-run listings and files, overlapped.

A first build of a big store reads ~8 small things a run (directory listings, inodes, two
JSON files). Read one after another, each read from disk - or each network round trip on
NFS or Lustre - waits alone: at 10,000 runs that is most of a cold listing's time. The
reads release the GIL (os.scandir, os.stat, os.open/read), so a few threads keep several
in flight and the disk's (or the server's) latency overlaps; the Python between them still
runs one thread at a time, as it would on one. Results come back in the items' order.
Small jobs (a warm catch-up's few changed runs) stay on the calling thread: starting
threads would cost more than they save there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .threads import block_process_signals

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

#: threads reading at once (8 and 32 read a cold 10,000-run store alike on a 2-core VM's
#: disk; a network filesystem's latency hides behind the same few)
THREADS = 8
#: fewer items than this are read on the calling thread
OVER = 64
#: items per task (a future per item costs more than the read of a cached one)
CHUNK = 16
#: an item of `fan_out_if_slow` that waited longer (its time less its thread's CPU time) waited
#: for the disk or the network: a cached run's stats or small reads wait for nothing, one
#: read from a disk 50 µs and more, a round trip to an NFS server more still
SLOW = 40e-6


def fan_out(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """`map(fn, items)`, on THREADS threads when there are more than OVER items; in order,
    each result as soon as it and those before it are ready. Closing the iterator early (an
    interrupted build: `contextlib.closing`) cancels what has not started and waits for what
    has."""
    if len(items) <= OVER:
        yield from map(fn, items)
        return
    from concurrent.futures import ThreadPoolExecutor  # (~20 ms of imports: a warm read needs none)

    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    pool = ThreadPoolExecutor(THREADS, "flightlog-read", initializer=block_process_signals)
    try:
        futures: list[Future[list[R]]] = [
            pool.submit(lambda chunk: [fn(x) for x in chunk], c) for c in chunks
        ]
        for f in futures:
            yield from f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Pace:
    """Whether a store's reads wait for the disk (None: not known yet), as the first
    `fan_out_if_slow` over it found: the later ones follow it without timing their own
    first items (a first build's describing runs while its index writes hold the GIL, a
    wait that is not the disk's)."""

    slow: bool | None = None


def fan_out_if_slow(
    fn: Callable[[T], R], items: Sequence[T], pace: Pace | None = None
) -> Iterator[R]:
    """`fan_out` for work that waits only when the kernel lacks the files (a catch-up's
    stats, every 2 s of a live refresh; a first build's listings and small reads): its first
    OVER items run on the calling thread, timed, and the rest go to threads only if most of
    those waited (a cold disk, a network filesystem); `pace` keeps what was found, or gives
    it. Cached, everything stays on the calling thread: threads would only add their
    switching to work that holds the GIL."""
    pace = pace or Pace()
    if pace.slow is None:
        slow = 0
        for x in items[:OVER]:
            t, cpu = time.perf_counter(), time.thread_time()
            r = fn(x)  # (timed before the yield: the consumer's work is no wait of fn's)
            slow += (time.perf_counter() - t) - (time.thread_time() - cpu) > SLOW
            yield r
        if len(items) >= OVER:  # (fewer: too few to tell)
            pace.slow = slow > OVER // 2
        items = items[OVER:]
    yield from fan_out(fn, items) if pace.slow else map(fn, items)
