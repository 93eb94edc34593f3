"""Metric keys with square brackets (`acc[top1]`, `loss[/]`) in the terminal UI: they are
shown as typed, like every stored text, never read as Rich markup. The runs table's
column headers were parsed as markup: `acc[top1]` and `acc[top5]` both showed as `acc`, and
a key with a closing tag (`loss[/]`) made the UI exit with a MarkupError traceback."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

from .conftest import python_script
from .tui_helpers import settle

KEYS = ("acc[top1]", "acc[top5]", "loss[/]")


def bracket_run(store: Path) -> str:
    """A finished run (in a child, as a training script) logging the bracketed keys."""
    r = python_script(
        f"""
        import flightlog
        run = flightlog.init(project="p", name="brackets")
        for s in range(20):
            run.log({{k: s * 0.1 for k in {KEYS!r}}})
        run.finish()
        print(run.id)
        """
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[-1]


async def test_runs_table_headers_show_bracketed_keys_as_typed(store: Path) -> None:
    bracket_run(store)
    app = FlightlogApp(store)
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await settle(pilot, lambda: table.row_count == 1)
        await pilot.pause(0.5)
        headers = [c.label.plain for c in table.ordered_columns]
        for key in KEYS:
            assert key in headers, headers
        shown = app.export_screenshot()
        assert "acc[top1]" in shown or "acc[top1" in shown
    assert app.return_code in (0, None), "the UI exited with an error"


async def test_run_screen_shows_bracketed_keys(store: Path) -> None:
    bracket_run(store)
    app = FlightlogApp(store)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(RunsTable)
        await settle(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")
        await settle(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
        )
        page = app.screen
        await settle(pilot, lambda: page.query("MetricChart"))
        metrics = page.query_one("#metrics")
        cells = [
            str(getattr(c, "plain", c))
            for i in range(metrics.row_count)
            for c in metrics.get_row_at(i)
        ]
        for key in KEYS:
            assert key in cells, cells
    assert app.return_code in (0, None), "the UI exited with an error"


def test_flightlog_api_reads_bracketed_keys(store: Path) -> None:
    """(The data itself is intact: only the display was wrong.)"""
    run_id = bracket_run(store)
    run = flightlog.Api(store).run(f"p/{run_id}")
    assert set(KEYS) <= set(run.summary.keys())
