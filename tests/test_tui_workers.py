"""TUI workers outliving their screen, and failed workers: never an exit, a toast instead."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from textual.worker import WorkerState

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.app import RunsScreen
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

SIZE = (120, 36)
STEPS = 40


async def settle(pilot, until, timeout: float = 60.0) -> None:
    """Wait (in app time) until `until()` is true: workers run in threads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.01)
        if until():
            return
    raise AssertionError("the UI never reached the expected state")


def loads_running(app: FlightlogApp) -> bool:
    return any(w.group == "run" and w.state == WorkerState.RUNNING for w in app.workers)


def a_running_run_with_many_rows() -> flightlog.Run:
    """A run of this process that stays `running` (its page refreshes every 2 s), with enough
    history that each refresh takes a while to load."""
    run = flightlog.init(project="live", name="trainer", settings={"stats_interval": 0})
    for i in range(20_000):
        run.log({"loss": 1 / (i + 1), "acc": i / 20_000, "lr": 0.1})
    run.save()
    return run


async def refresh(pilot, app: FlightlogApp, page: RunScreen) -> None:
    """Start the page's refresh as its 2-second timer does; return when it is in flight."""
    page.call_later(page.reload_if_running)
    await settle(pilot, lambda: loads_running(app))


def load_still_running() -> bool:
    """True while a thread is inside a page's `load` and has not yet handed its result to
    the UI thread (App.call_from_thread): read from the threads' stacks, as the UI thread is
    kept busy and cannot see the worker's state change."""
    for frame in sys._current_frames().values():
        names = set()
        while frame is not None:
            names.add(frame.f_code.co_name)
            frame = frame.f_back
        if "load" in names and "call_from_thread" not in names:
            return True
    return False


async def open_page(pilot, app: FlightlogApp) -> RunScreen:
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None)
    assert app.screen.detail.row["state"] == "running"
    return app.screen


async def test_leaving_a_running_runs_page_while_its_refresh_is_in_flight(
    store: Path,
) -> None:
    """The refresh's result used to land on a page being torn down: NoMatches('#overview')
    in the worker, and Textual's exit_on_error ended the app (1 in 16 by hand).

    Here the race is pinned: the page is left while its refresh is in flight, and the UI
    thread is kept busy (as on a loaded machine) until the refresh has finished loading, so
    its result arrives in the middle of the page's teardown, every iteration."""
    a_running_run_with_many_rows()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query_one(RunsTable).row_count == 1)
        for i in range(STEPS):
            page = await open_page(pilot, app)
            await refresh(pilot, app, page)
            app.pop_screen()  # what escape does
            for _ in range(i):  # let the page's teardown run i steps while the load runs
                await asyncio.sleep(0)
            deadline = time.monotonic() + 60
            while load_still_running() and time.monotonic() < deadline:
                time.sleep(0.01)  # the UI thread is busy while the load finishes
            await settle(pilot, lambda: not loads_running(app))
            await pilot.pause(0.05)
            assert app.is_running and app.return_code is None, f"the app exited ({i})"
            assert isinstance(app.screen, RunsScreen)
            assert not app._notifications, "no error toast for a page that is gone"
        await pilot.press("enter")  # the UI still works
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_a_failed_worker_is_a_toast_not_an_exit(store: Path) -> None:
    """A page for a run that is not (or no longer) in the store: its load fails; that used
    to end the whole app through Textual's exit_on_error."""
    run = flightlog.init(project="p", name="kept")
    run.log({"x": 1})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query_one(RunsTable).row_count == 1)
        app.push_screen(RunScreen(store, "p/vanished"))
        await settle(pilot, lambda: [n for n in app._notifications if n.severity == "error"])
        toast = next(iter(app._notifications))
        assert toast.message.startswith("loading the run failed: "), toast.message
        assert app.is_running and app.return_code is None
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert app.screen.query_one(RunsTable).row_count == 1


async def test_a_store_slower_than_the_refresh_interval_still_shows_its_runs(
    store: Path, monkeypatch
) -> None:
    """Each refresh starts an exclusive worker (the newest wins): when one load takes longer
    than the interval, starting the next would cancel it, and no load would ever deliver.
    Ticks are skipped while a load runs instead."""
    import flightlog.tui.runs_screen as runs_screen

    for _ in range(3):
        flightlog.init(project="slow", reinit="create_new").finish(quiet=True)
    real = runs_screen.load_runs

    def slow_store(*args, **kwargs):
        time.sleep(0.4)  # a busy NFS server: every listing takes this long
        return real(*args, **kwargs)

    monkeypatch.setattr(runs_screen, "load_runs", slow_store)
    monkeypatch.setattr(runs_screen, "REFRESH_SECONDS", 0.1)
    app = FlightlogApp(store)
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and app.screen.query_one(RunsTable).row_count < 3:
            await pilot.pause(0.1)
        assert app.screen.query_one(RunsTable).row_count == 3
