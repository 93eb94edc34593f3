"""Sorting the runs screen by a summary column that holds a number in one run and text in
another (a metric logged as "n/a" when a run had no validation set): the UI stays up.
Found by the session-13 breaker."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.runs_table import RunsTable

from .conftest import settled
from .tui_helpers import SIZE, column, rows, settle


async def test_sorting_a_column_of_numbers_and_text_keeps_the_ui_up(store: Path) -> None:
    for name, value in (("b", 0.5), ("a", "n/a"), ("c", 0.25), ("d", None)):
        run = flightlog.init(project="p", name=name, reinit="finish_previous")
        run.log({"loss": 1.0, **({} if value is None else {"val_acc": value})})
        run.finish()
    settled()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 4)
        table = app.screen.query_one(RunsTable)
        table.move_cursor(column=list(table.backend.columns).index("val_acc"))
        await pilot.press("s")
        await settle(pilot, lambda: column(app, "val_acc")[0] == "0.25")
        assert column(app, "val_acc") == ["0.25", "0.5", "n/a", ""]  # numbers, text, none
        await pilot.press("s")
        await settle(pilot, lambda: column(app, "val_acc")[0] == "0.5")
        assert column(app, "val_acc") == ["0.5", "0.25", "n/a", ""]
        assert app.is_running
