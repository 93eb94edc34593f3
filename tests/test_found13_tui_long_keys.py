"""A run with one very long metric name (a key built from a module path, a 300-character
f-string gone wrong): the run screen's metric table still shows every metric's values.
Found by the session-13 breaker, browsing such a run over SSH."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

import flightlog
from flightlog.tui.data import load_run
from flightlog.tui.run_overview import fill_metric_table

from .tui_helpers import settle

LONG = "encoder/" + "layer_0/attention/" * 16 + "grad_norm"


class MetricsApp(App[None]):
    CSS = "DataTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield DataTable(id="metrics", cursor_type="row")


@pytest.mark.parametrize("width", [60, 120])
async def test_every_metric_value_shows_beside_a_very_long_metric_name(
    store: Path, width: int
) -> None:
    run = flightlog.init(project="p")
    run.log({"train/loss": 0.5, LONG: 3.0})
    run.log({"train/loss": 0.25, LONG: 2.0})
    run.finish(quiet=True)
    stats = load_run(store, f"p/{run.id}").metrics
    app = MetricsApp()
    async with app.run_test(size=(width, 12)) as pilot:
        table = app.query_one(DataTable)
        fill_metric_table(table, stats, narrow=True)
        await settle(pilot, lambda: not table._require_update_dimensions)
        await pilot.pause()
        lines = [table.render_line(y).text for y in range(table.size.height)]
        loss = next(line for line in lines if "train/loss" in line)
        assert loss.split()[1:4] == ["0.25", "0.25", "0.5"], lines
        long = next(line for line in lines if line.lstrip().startswith("encoder/"))
        assert long.split()[-4:-1] == ["2", "2", "3"], lines  # last, min, max
        assert long.rstrip().endswith("2"), lines  # the count
