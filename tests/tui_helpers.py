"""What the TUI tests share: driving the real app with Pilot and reading what it shows.

Tests wait on conditions (`settle`, `still`) with generous deadlines, never on wall-clock
slack: workers run in threads and a loaded machine delays every frame."""

from __future__ import annotations

import re
import time
from pathlib import Path

from textual.widgets import DataTable

from flightlog.store.index import Index
from flightlog.store.query import create_sql_views
from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard, MetricChart
from flightlog.tui.compare_screen import CompareScreen
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

SIZE = (120, 36)
SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


def rows(app: FlightlogApp) -> list[list[str]]:
    t = app.screen.query_one(RunsTable)
    return [list(map(str, t.get_row_at(i))) for i in range(t.row_count)]


def names(app: FlightlogApp) -> list[str]:
    return [r[2] for r in rows(app)]


def column(app: FlightlogApp, name: str) -> list[str]:
    """One column of the runs table, by its header (metrics come before steps and tags)."""
    index = list(app.screen.query_one(RunsTable).backend.columns).index(name)
    return [r[index] for r in rows(app)]


async def settle(pilot, until, timeout: float = 180.0, poll: float = 0.05) -> None:
    """Wait (in app time, `poll` seconds a check) until `until()` is true: workers run in
    threads. 180 s: with two runs training beside it, a compare screen's first load took
    45-86 s under 16 CPU burners, and 60 s ran out in two full suites with the frameworks'
    tests (load 4-21); a UI that never gets there still fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(poll)
        if until():
            return
    raise AssertionError("the UI never reached the expected state")


async def still(pilot, times: int = 3, timeout: float = 60.0) -> None:
    """Wait until the screen renders the same picture `times` checks in a row, 0.2 s apart:
    a snapshot taken then has every column width and scroll position settled, however late
    the frames that set them come on a loaded machine."""
    last, same = None, 0
    deadline = time.monotonic() + timeout
    while same < times and time.monotonic() < deadline:
        await pilot.pause(0.2)
        if any(_widths_pending(t) for t in pilot.app.screen.query(DataTable)):
            same = 0  # a table measures new rows' cells when idle: its widths are not final
            continue
        now = re.sub(r"terminal-\d+", "", pilot.app.export_screenshot())
        same = same + 1 if now == last else 0
        last = now


def _widths_pending(table: DataTable) -> bool:
    """Whether a DataTable still has rows or cells to measure (Textual does it on idle).

    Private attributes, read on purpose: Textual has no public sign that a table's column
    widths are final, and two identical frames alone were caught before the idle pass that
    measures them (the header-width snapshots of commit 1a8b3aa)."""
    return bool(table._require_update_dimensions or table._new_rows or table._updated_cells)


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


def legends(app: FlightlogApp) -> dict[str, str]:
    return {c.key: str(c.query_one(".legend").render()) for c in app.screen.query(ChartCard)}


def legend_line(lines: list[str], name: str) -> str:
    """The line of run `name` in a chart's legend."""
    return next(line for line in lines if line.startswith(f"━━ {name} "))


def charts_drawn(app: FlightlogApp) -> bool:
    """Every chart card mounted whole (a cancelled draw can leave one without its chart for
    a moment) and drawn."""
    cards = list(app.screen.query(ChartCard))
    return bool(cards) and all(c.query(MetricChart) and c.chart.draws for c in cards)


async def open_run(app: FlightlogApp, pilot) -> RunScreen:
    """The runs screen's first run opened, once its charts are drawn."""
    await settle(pilot, lambda: len(rows(app)) >= 1)
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(app.screen, RunScreen) and charts_drawn(app))
    assert isinstance(app.screen, RunScreen)
    return app.screen


async def open_compare(app: FlightlogApp, pilot, listed: int = 2) -> CompareScreen:
    """The first two of the `listed` runs marked and compared, once the charts are drawn."""
    await settle(pilot, lambda: len(rows(app)) == listed)
    await pilot.press("space", "space", "c")
    await settle(pilot, lambda: isinstance(app.screen, CompareScreen) and charts_drawn(app))
    assert isinstance(app.screen, CompareScreen)
    return app.screen


def stored(store: Path, run_key: str, key: str, step: int) -> float:
    """The value of `key` a run logged at `step`, read from the store (not the TUI)."""
    with Index(store) as idx:
        create_sql_views(idx)
        return idx.arrow(
            "SELECT value FROM history WHERE run_key = ? AND key = ? AND step = ?",
            [run_key, key, step],
        ).to_pylist()[0]["value"]


def wait_for_runs_dir(store: Path, timeout: float = 60.0) -> None:
    """Until a training process just spawned has created the store's runs/ (or `timeout`)."""
    deadline = time.time() + timeout
    while not (store / "runs").is_dir() and time.time() < deadline:
        time.sleep(0.05)


def help_text(app: FlightlogApp) -> list[str]:
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=100, record=True)
    for static in app.screen.query("HelpScreen Static"):
        console.print(static.content)
    return [line.rstrip() for line in console.export_text().splitlines()]


def stop_trainers(stop: Path, procs: list) -> None:
    """Tell training subprocesses to finish (their loop watches the `stop` file), wait for
    each, and kill one that does not stop within a minute."""
    stop.touch()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
