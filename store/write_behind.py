"""A first build's index writes, each overlapped with describing the next batch of runs.

A cold build describes 500 runs, then inserts them in one transaction (store/catch_up.py).
The insert runs in DuckDB with the GIL released and ends with a commit that waits for the
disk (an fsync of the write-ahead log; on NFS a round trip), so done on a thread of its own
it overlaps the next batch's reads and parsing instead of following them. One write at a
time, in order, on the index's one connection, which nothing else uses meanwhile (the
describing reads files only). A build of one batch writes on the calling thread: a thread
would only add its start.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .threads import block_process_signals

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


class WriteBehind:
    """`submit(fn, ...)` runs `fn` after the write before it, on a thread when `behind`;
    leaving the block waits for the last one (its error raised, unless the block's is)."""

    def __init__(self, behind: bool) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None
        if behind:
            from concurrent.futures import ThreadPoolExecutor  # (a warm read needs none)

            self._pool = ThreadPoolExecutor(
                1, "flightlog-index-write", initializer=block_process_signals
            )

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._pool is None:
            fn(*args, **kwargs)
            return
        self._wait()
        self._pending = self._pool.submit(fn, *args, **kwargs)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self._wait()
            elif self._pending is not None:
                self._pending.exception()  # committed what it had (an interrupted build keeps it)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
