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


async def test_g_puts_the_charts_side_by_side(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_run(app, pilot)
        await pilot.press("g")

        def side_by_side() -> bool:
            cards = list(app.screen.query(ChartCard))
            return len(cards) >= 2 and cards[0].region.y == cards[1].region.y

        await settle(pilot, side_by_side, timeout=20)
        first, second = list(app.screen.query(ChartCard))[:2]
        assert first.region.right <= second.region.x
