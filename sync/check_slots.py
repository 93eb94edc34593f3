"""How many segment checks run at once, and how many upload requests work in threads at once.

An upload request used to hop to a worker thread three times once its body was in - to
write and fsync its frames, to check and place them under the check limiter, to commit - and
FastAPI hopped once more to look its key up. Each hop wakes a thread and hands the answer
back to the event loop: in a profile of the 1,000-run benchmark store's upload, waking
worker threads was a third of the event loop's time with the GIL held. Now the request's
work after its body is one hop (`run`), and the thread takes a check slot itself (a
semaphore, `checking`) only around its checks: its fsyncs, renames and commit wait for the
disk without holding one, and a check never waits behind another request's disk.

`threads` bounds the requests working at once (each holding at most its frames, which are
already in temp files or in memory); the check slots bound what checking holds in memory
(limits.concurrent_checks, shared by every upload route).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio

T = TypeVar("T")
#: upload requests working in threads, per check slot: while some check, others write,
#: fsync or commit
THREADS_PER_SLOT = 4


class CheckSlots:
    """The server's check slots and the threads upload requests work in."""

    def __init__(self, checks: int) -> None:
        self._checks = threading.BoundedSemaphore(checks)
        self.threads = anyio.CapacityLimiter(THREADS_PER_SLOT * checks)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in one of the upload threads; it takes a check slot where it checks."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.threads)

    @contextmanager
    def checking(self) -> Iterator[None]:
        """Hold a check slot (blocking: in a worker thread)."""
        with self._checks:
            yield

    def checked(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` holding a check slot (blocking)."""
        with self.checking():
            return fn(*args)
