"""The runs screen's message in place of an empty table, for stores on odd paths and for a
store whose directory goes away while it is shown (a scratch purge, an unmounted
filesystem): it said "No runs in DIR yet" and how to log a first run, as for a new store,
and a path holding square brackets was read as markup (`sweep[lr=0.1]` showed as `sweep`,
`odd[/]dir` stopped the UI with a MarkupError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.tui import FlightlogApp
from flightlog.tui.runs_table import RunsTable

from .sync_runs import small_runs
from .tui_helpers import settle


def empty_message(app: FlightlogApp) -> str:
    return str(app.screen.query_one("#empty").render())


@pytest.mark.parametrize("name", ["sweep[lr=0.1]", "odd[/]dir", "a[b]c"])
async def test_an_empty_store_on_a_bracketed_path_is_named_as_typed(
    tmp_path: Path, name: str
) -> None:
    root = tmp_path / name
    root.mkdir(parents=True)
    app = FlightlogApp(root)
    async with app.run_test(size=(120, 30)) as pilot:
        empty = app.screen.query_one("#empty")
        await settle(pilot, lambda: empty.display)
        assert f"No runs in {root} yet" in empty_message(app)
    assert app.return_code in (0, None)


async def test_a_store_that_goes_away_is_said_to_be_gone_and_comes_back(
    store: Path, tmp_path: Path
) -> None:
    small_runs(2)
    app = FlightlogApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await settle(pilot, lambda: table.row_count == 2)
        store.rename(tmp_path / "elsewhere")  # unmounted
        empty = app.screen.query_one("#empty")
        await settle(pilot, lambda: empty.display)
        message = empty_message(app)
        assert f"{store} is not there any more" in message, message
        assert "Log a first one" not in message
        (tmp_path / "elsewhere").rename(store)  # mounted again
        await settle(pilot, lambda: table.display and table.row_count == 2)
