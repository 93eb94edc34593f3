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
from flightlog.tui.context_screens import ConsolePane
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

from .tui_helpers import SIZE, settle

STEPS = 40


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
    await settle(pilot, lambda: loads_running(app), poll=0.01)  # catch it in flight


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


async def test_the_run_pages_console_pane_shows_output_from_a_store_slower_than_the_refresh(
    store: Path, monkeypatch
) -> None:
    """The run page's console and system panes refresh on their own tick, which skips while
    their previous read runs (as the runs list's does): before, it waited on a worker group
    no load had ("context"), so a slow store got a new read every tick, each cancelling the
    last, and the pane showed its output only by luck."""
    import flightlog.tui.context_screens as context_screens
    import flightlog.tui.run_screen as run_screen

    from .conftest import python_script

    res = python_script("""
        import flightlog
        run = flightlog.init(project="slow", name="talker")
        print("hello from the script")
        run.log({"loss": 1.0})
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    real = context_screens.read_console
    reading, most = [], [0]  # reads in flight now, the most at once

    def slow_store(*args, **kwargs):
        reading.append(1)
        most[0] = max(most[0], len(reading))
        time.sleep(1.0)  # a busy NFS server: every read takes ten ticks
        reading.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(context_screens, "read_console", slow_store)
    monkeypatch.setattr(run_screen, "REFRESH_SECONDS", 0.1)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query_one(RunsTable).row_count == 1)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("7")  # the console pane
        pane = app.screen.query_one(ConsolePane)
        await settle(pilot, lambda: "hello from the script" in pane.shown())
        await pilot.pause(1.0)  # ten more ticks
    assert most[0] == 1  # one read of the slow store at a time, not one a tick
