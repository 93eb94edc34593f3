"""What `flightlog sync` shows while it works: a progress bar on a terminal; elsewhere (a
Slurm job's log, nohup.out, a pipe) plain lines, never control codes - where it starts, then
its progress every LINE_EVERY seconds while it moves. In both, a request the server has left
unanswered STALLED_AFTER seconds gets one line (`Stalls`, `flightlog login` says them too):
the server's URL, how long it has been silent, when that attempt gives up and how many are
left. Before, a sync to a hung server said nothing off a terminal until it gave up, five
attempts later.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from flightlog.sync.client import Attempt, ServerClient

#: seconds a request may wait for the server before a line says so
STALLED_AFTER = 10.0
#: seconds between progress lines off a terminal (none while nothing moves)
LINE_EVERY = 10.0
#: how often the watcher looks
TICK = 0.5


class Stalls:
    """Says, once per attempt, a request that `client`'s server leaves unanswered
    STALLED_AFTER seconds (the longest silent named, the others counted); `then` ends the
    line: what waiting costs."""

    def __init__(self, client: ServerClient, say: Callable[[str], None], then: str) -> None:
        self.client, self.say, self.then = client, say, then
        self._said: weakref.WeakSet[Attempt] = weakref.WeakSet()

    def check(self) -> None:
        from flightlog.sync.client import API

        now = time.monotonic()
        waiting = [a for a in self.client.waiting() if now - a.since >= STALLED_AFTER]
        if not waiting or all(a in self._said for a in waiting):
            return
        self._said.update(waiting)
        a = waiting[0]
        left = a.tries - a.number
        after = f"then {left} more attempt(s)" if left else "the last of this request"
        others = f"; {len(waiting) - 1} other request(s) wait too" if len(waiting) > 1 else ""
        self.say(
            f"flightlog: waiting for {self.client.shown}: no answer for "
            f"{now - a.since:.0f} s to {a.method} {API}{a.url} (attempt {a.number} of "
            f"{a.tries}: it gives up after {self.client.timeout:.0f} s of silence, {after})"
            f"{others}; {self.then}"
        )


@contextmanager
def watching(check: Callable[[], None]) -> Iterator[None]:
    """`check()` every TICK seconds on a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(TICK):
            check()

    thread = threading.Thread(target=loop, name="flightlog-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class SyncReport:
    """The progress of one `flightlog sync`, updated from the threads that upload, and a
    watcher thread that says when the server keeps a request waiting."""

    def __init__(
        self, client: ServerClient, out: Console, runs: int, segments: int, mb: float
    ) -> None:
        self.client = client
        self.out = out
        self.runs, self.segments, self.mb = runs, segments, mb
        self.tried = self.seen_segments = 0
        self.seen_bytes = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._stalls = Stalls(client, self.say, "nothing is lost, the runs stay in the local store")
        self._bar: Progress | None = None
        self._runs_task = self._data_task = 0  # the bar's rows (TaskID)
        self._last_line = (self.start, self._state())
        self._open = ExitStack()

    # -- what the sync reports ---------------------------------------------------------------
    def on_bytes(self, n: int) -> None:
        """A segment sent or found on the server (from the upload threads)."""
        with self._lock:
            self.seen_segments += 1
            self.seen_bytes += n
            detail = self._data()
        if self._bar is not None:
            self._bar.update(self._data_task, completed=self.seen_bytes / 1e6, detail=detail)

    def run_done(self) -> None:
        with self._lock:
            self.tried += 1
        if self._bar is not None:
            detail = f"{self.tried}/{self.runs}"
            self._bar.update(self._runs_task, completed=self.tried, detail=detail)

    def say(self, line: str) -> None:
        """One line, above the bar on a terminal."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            print(line, flush=True)

    # -- the display ---------------------------------------------------------------------------
    def __enter__(self) -> SyncReport:
        if sys.stdout.isatty():  # not rich's guess: FORCE_COLOR must not draw bars in a log
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.out,
                transient=True,
            )
            self._open.enter_context(self._bar)
            self._runs_task = self._bar.add_task("runs", total=self.runs, detail=f"0/{self.runs}")
            self._data_task = self._bar.add_task("data", total=self.mb or None, detail="")
        else:
            self.say(
                f"flightlog: syncing {self.runs} run(s), {self.segments} segment(s), "
                f"{self.mb:.1f} MB to {self.client.shown}"
            )
        self._open.enter_context(watching(self._tick))  # left first: the bar outlives it
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open.__exit__(kind, exc, tb)

    def _data(self) -> str:
        mb = self.seen_bytes / 1e6
        rate = mb / max(time.monotonic() - self.start, 1e-3)
        return (
            f"{self.seen_segments}/{self.segments} segments, {mb:.1f}/{self.mb:.1f} MB, "
            f"{rate:.1f} MB/s"
        )

    def _state(self) -> tuple[int, int]:
        return self.tried, self.seen_segments

    def _tick(self) -> None:
        now = time.monotonic()
        self._stalls.check()
        if self._bar is None and now - self._last_line[0] >= LINE_EVERY:
            with self._lock:
                state, data = self._state(), self._data()
            if state != self._last_line[1]:  # nothing moved: the stall line says why
                self._last_line = (now, state)
                elapsed = now - self.start
                self.say(f"flightlog: {self.tried}/{self.runs} runs, {data}, {elapsed:.0f} s")
