"""A screen covered by another reads nothing: the runs list under a live run's page stopped
refreshing its listing every 2 s, and lists again as soon as it is shown.

Found chasing test_the_compare_screen_follows_training_runs_keeping_zoom_and_cursor, which
failed in full suites at load 18-20: the runs screen under the compare screen went on
listing the store every 2 s, its reads taking about half of what the UI process got while
the screen in view waited for its first chart (a trace at 0.06 of a core: a compare load of
66 s beside a hidden listing of 47 s). On a busy login node the screen in view loaded that
much slower for a list nobody could see."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from flightlog.tui import FlightlogApp, runs_screen
from flightlog.tui.charts import ChartCard
from flightlog.tui.runs_screen import RunsScreen

from .test_tui_cursor_context import TRAINER
from .tui_helpers import open_run, rows, settle, stop_trainers, wait_for_runs_dir


async def test_the_runs_list_under_a_live_run_is_not_read_until_it_is_shown_again(
    store: Path, monkeypatch
) -> None:
    listings = []
    real = runs_screen.load_runs

    def counted(*args, **kwargs):
        listings.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs_screen, "load_runs", counted)
    stop = store.parent / "stop-training"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(TRAINER), "live", "1", str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    ]
    try:
        wait_for_runs_dir(store)
        app = FlightlogApp(store)
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot, lambda: len(rows(app)) == 1 and rows(app)[0][1] == "●")
            screen = await open_run(app, pilot)
            card = screen.query_one(ChartCard)
            await settle(pilot, lambda: not any(w.is_running for w in app.workers))
            before, draws = len(listings), card.chart.draws
            # three live reloads of the run's page: 4 s and more of 2-second ticks
            await settle(pilot, lambda: card.chart.draws >= draws + 3, timeout=180)
            assert len(listings) == before  # the list under it was not read
            await pilot.press("q")  # back on the list: read at once
            await settle(pilot, lambda: isinstance(app.screen, RunsScreen))
            await settle(pilot, lambda: len(listings) > before)
    finally:
        stop_trainers(stop, procs)
