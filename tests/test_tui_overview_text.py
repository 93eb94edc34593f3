"""The run screen's overview shows stored text as typed: a name with an unbalanced `[` or a
backslash (`x[1`, `a\\[b]c`, `end\\`) was read as markup, which showed the closing `[/b]` of
the bold name, doubled the backslashes, or swallowed the rest of the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flightlog
from flightlog.tui import FlightlogApp

from .tui_helpers import SIZE, open_run, settle

NAMES = ["x[1", "a[2Jb", "a\\[b]c", "end\\", "[bold]x[/]"]


@pytest.mark.parametrize("name", NAMES)
async def test_the_overview_shows_a_name_with_brackets_or_backslashes_as_typed(
    store: Path, name: str
) -> None:
    run = flightlog.init(project="p", name="plain", config={"lr": 0.1}, group=f"g{name}")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    meta = store / "runs" / "p" / run.id / "run.json"  # (names from an import or a server)
    data = json.loads(meta.read_text())
    data["name"] = name
    meta.write_text(json.dumps(data))
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        await settle(pilot, lambda: screen.detail is not None)
        lines = str(screen.query_one("#overview").render()).splitlines()
        assert lines[0].startswith(f"{name} ({run.id}) · p · "), lines[0]
        assert lines[1].startswith(f"group g{name} · job"), lines[1]
