"""The runs screen's status line and its empty-store text show typed and stored text as it
is: the filter in force (a regex's backslash, `run\\d+`, showed doubled: it was markup,
escaped by rich's escape() and read by Textual's parser) and the store's path (`exp[1`
showed the bold text's closing `[/b]`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.markup import to_content

import flightlog
from flightlog.tui import FlightlogApp

from .tui_helpers import SIZE, rows, settle, type_text


@pytest.mark.parametrize("where", [r"name~r\d", "x\\", "tag:x[1"])
async def test_the_status_line_shows_the_filter_as_typed(store: Path, where: str) -> None:
    run = flightlog.init(project="p", name="r1", tags=["x[1"])
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("slash")
        await type_text(pilot, where)
        await pilot.press("enter")
        status = app.screen.query_one("#status")
        await settle(pilot, lambda: "filter" in str(status.render()))
        assert str(status.render()).endswith(f"· filter {where}"), str(status.render())


async def test_an_empty_store_with_a_bracket_in_its_path_is_named_as_it_is(
    tmp_path: Path,
) -> None:
    root = tmp_path / "exp[1"
    (root / "runs").mkdir(parents=True)
    app = FlightlogApp(root)
    async with app.run_test(size=(200, 30)) as pilot:
        empty = app.screen.query_one("#empty")
        await settle(pilot, lambda: empty.display)
        first = str(empty.render()).splitlines()[0]
        assert first.startswith(f"No runs in {root} yet. Log a first one"), first


async def test_copying_a_runs_path_says_the_path_as_it_is(tmp_path: Path) -> None:
    root = tmp_path / "exp[red]x"
    run = flightlog.init(project="p", name="r1", dir=str(root))
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    app = FlightlogApp(root)
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("Y")
        path = str(root / "runs" / "p" / run.id)
        await settle(pilot, lambda: app._notifications)
        # as its toast draws it (a headless app mounts no toasts): markup unless said not
        shown = [to_content(n.message).plain if n.markup else n.message for n in app._notifications]
        assert f"copied {path}" in shown, shown
