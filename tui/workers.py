"""Thread workers that read the store for a screen, and the one place their failures go.

A screen asks for data with a `@store_work` method, which runs in a thread and hands its
result back with `deliver()`. The result reaches the screen only while the screen is still
on the app's stack and the worker was not cancelled: leaving a run's page while its 2-second
refresh is in flight drops that refresh instead of updating widgets being torn down.

A worker that fails does not end the app (Textual's default, `exit_on_error`): every
flightlog screen derives from `StoreScreen`, which reports the failure as an error toast naming
what was being loaded and why, and the rest of the UI keeps working (as harlequin does). A
failure of a screen that is already gone is only logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual import work
from textual._context import NoActiveAppError
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from flightlog.store.text import safe

Result = TypeVar("Result")

#: seconds between a screen's reloads of what it shows (runs list, a live run, its context)
REFRESH_SECONDS = 2.0
#: seconds an error toast stays: long enough to be read, loud by default
TOAST_SECONDS = 20.0


def store_work(description: str, group: str = "default") -> Callable[..., Any]:
    """`@work` for store reads: a thread, the newest request wins, failures to the toast."""
    return work(
        thread=True, exclusive=True, group=group, description=description, exit_on_error=False
    )


def showing(screen: Screen[Any]) -> bool:
    """True while `screen` is on its app's stack (shown, or under a screen pushed over it)."""
    try:
        return screen in screen.app.screen_stack
    except NoActiveAppError:  # detached from the app: it has been popped and removed
        return False


def covered(screen: Screen[Any]) -> bool:
    """True while a screen over `screen` hides it: an opaque one (a modal one, the help over a
    run's page, lets it show through)."""
    stack = screen.app.screen_stack
    above = stack[stack.index(screen) + 1 :] if screen in stack else []
    return any(s.styles.background.a == 1 for s in above)


def deliver(screen: Screen[Any], callback: Callable[..., Any], *args: Any) -> None:
    """From a worker thread: run `callback(*args)` on the UI thread, unless the worker was
    cancelled or `screen` left the stack in the meantime (checked on the UI thread, so no
    teardown can start between the check and the call)."""
    worker = get_current_worker()
    try:
        app = screen.app
    except NoActiveAppError:
        return

    def guarded() -> Any:
        if not worker.is_cancelled and showing(screen):
            return callback(*args)
        return None

    app.call_from_thread(guarded)


class StoreScreen(Screen[None]):
    """Base of flightlog's screens: failed workers become a toast, never an exit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: each error's text and when its toast was shown: a refresh that fails the same
        #: way every 2 s (a revoked key, a store that went unreadable) showed a new toast
        #: each time, ten of them stacked over the table
        self._toasts: dict[str, float] = {}
        #: the refresh ticks that came while another screen covered this one (`refresh_every`)
        self._missed: set[Callable[[], None]] = set()

    def refresh_every(self, seconds: float, load: Callable[[], Any], *groups: str) -> None:
        """Call `load` every `seconds`, skipping a tick while this screen's previous load in
        any of `groups` (the worker groups `load` starts) is still running. Store workers are
        exclusive (the newest request wins), so on a store slower than the interval - a busy
        NFS server, a loaded node - starting a load every tick would cancel each one before
        it delivered, and nothing would show.

        A screen covered by another (the runs list under a run's page) skips its ticks and
        loads once when it is shown again: its reads competed with those of the screen in
        view, which on a busy machine waited about twice as long for its first chart."""

        def tick() -> None:
            if covered(self):
                self._missed.add(tick)
            elif not any(
                w.group in groups and w.node is self and not w.is_finished for w in self.workers
            ):
                load()

        self.set_interval(seconds, tick)

    def on_screen_resume(self) -> None:
        """Shown again: the loads of the refresh ticks skipped while covered, once each."""
        missed, self._missed = self._missed, set()
        for tick in missed:
            tick()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        self.log.error(f"worker {worker.name!r} failed: {worker.error!r}")
        if showing(self):
            what = worker.description or worker.name or "a background task"
            text = safe(f"{what} failed: {type(worker.error).__name__}: {worker.error}")
            now = time.monotonic()
            if text in self._toasts and now - self._toasts[text] < TOAST_SECONDS:
                return  # still on screen
            self._toasts[text] = now
            self.app.notify(
                text,
                title="flightlog",
                severity="error",
                timeout=TOAST_SECONDS,
                markup=False,
            )
