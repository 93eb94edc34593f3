"""Found following the README as a newcomer: "`s` sorts by the cursor's column (again
reverses; clicking a header does the same)". The runs table has a row cursor
(tui/runs_table.py `cursor_type="row"`), so left/right only scroll it sideways and the
cursor's column stays the first one (the mark column, which `action_sort` maps to
"started"): from the keyboard, `s` sorts by start time only, whatever column is wanted.
test_tui.py's sort tests move the column with `table.move_cursor(column=2)`, which no key
did. `<` and `>` now sort by the column left or right of the one sorted by."""

from __future__ import annotations

from pathlib import Path

from flightlog.tui import FlightlogApp

from .tui_helpers import SIZE, names, rows, settle


async def test_the_keyboard_reaches_a_column_to_sort_by(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        status = app.screen.query_one("#status")
        before = str(status.render())
        await pilot.press("greater_than_sign")  # from started (the default) to tags
        await settle(pilot, lambda: str(status.render()) != before)
        assert "sorted by tags" in str(status.render())
        for _ in range(6):  # group, project, id, sync, then round to state, name
            await pilot.press("greater_than_sign")
        await settle(pilot, lambda: "sorted by name" in str(status.render()))
        assert names(app) == sorted(names(app))
        await pilot.press("s")  # again: reversed
        await settle(pilot, lambda: names(app) == sorted(names(app), reverse=True))
        await pilot.press("less_than_sign")  # back to state
        await settle(pilot, lambda: "sorted by state" in str(status.render()))
