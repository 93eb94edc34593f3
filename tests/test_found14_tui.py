"""Found trying the UI in a real terminal (tmux, 160x45) as a wandb user would.

`g` ("charts in 1, 2 or 3 columns") said "charts in 2 columns" and the charts stayed one
under another: the chart box's style was set as `styles.ws_layout` (a rename gone too far,
an attribute Textual ignores) instead of `styles.layout`, so the grid never applied; the
test of it read the grid's column count, never where the charts were."""

from __future__ import annotations

from pathlib import Path

from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard

from .tui_helpers import open_run, settle


def _side_by_side(app: FlightlogApp) -> bool:
    cards = list(app.screen.query(ChartCard))
    return len(cards) >= 2 and cards[0].region.y == cards[1].region.y


async def test_g_puts_the_charts_side_by_side(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_run(app, pilot)
        await pilot.press("g")

        await settle(pilot, lambda: _side_by_side(app), timeout=20)
        first, second = list(app.screen.query(ChartCard))[:2]
        assert first.region.right <= second.region.x


async def test_charts_in_columns_that_do_not_fit_are_not_clipped(samples: Path) -> None:
    """Found once `g` worked: at 80x24, with the overview and config hidden, the chart box
    is ~34 columns wide and two charts of at least 30 were cut at its edge (the snapshot
    test_snapshot_panes_hidden_grid_and_cursor says "nothing clipped"). The grid keeps the
    columns that fit, says so, and brings the others back when there is room."""
    from flightlog.tui.run_screen import RunScreen

    app = FlightlogApp(samples)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(app, pilot)
        await pilot.press("1", "3", "g")
        box = app.screen.query_one("#charts")

        def laid_out() -> bool:
            cards = list(app.screen.query(ChartCard))
            return len(cards) >= 2 and all(c.region.width for c in cards)

        await settle(pilot, laid_out)
        await pilot.pause(0.5)
        for card in app.screen.query(ChartCard):  # (a chart wider than its grid cell is cut)
            assert card.chart.outer_size.width <= card.size.width <= box.size.width, (
                card.chart.outer_size,
                card.size,
                box.size,
            )
        await pilot.resize_terminal(200, 50)  # room again: two columns
        await settle(pilot, lambda: _side_by_side(app))
        assert isinstance(app.screen, RunScreen)


async def test_a_sort_shows_the_top_of_the_sorted_list(samples: Path) -> None:
    """Found in tmux on a 10,000-run store: sorting 198 filtered runs by loss (`<`) showed
    the table from the run the cursor was on (the newest, 0.0579), with the best runs
    (0.0001) scrolled out above and nothing saying so, under "sorted by loss ↑". A sort
    the user asks for now shows the sorted list from its top, cursor on its first row."""
    from flightlog.tui.runs_table import RunsTable

    from .tui_helpers import names, rows

    app = FlightlogApp(samples)
    async with app.run_test(size=(100, 14)) as pilot:  # a table of a few rows
        await settle(pilot, lambda: len(rows(app)) == 12)
        table = app.screen.query_one(RunsTable)
        # the cursor on a run that sorts last by name, in the name column
        table.move_cursor(row=names(app).index("witty-grove-8"), column=2)
        await pilot.press("s")
        await settle(pilot, lambda: names(app) == sorted(names(app)))
        await pilot.pause(0.3)
        assert (table.cursor_row, table.scroll_y) == (0, 0), (table.cursor_row, table.scroll_y)
