"""The compare screen zoomed on charts drawn against a step metric: its curves re-read over
the range start at their first point inside it, so the view's left edge (step 52, between
epochs 1 and 2) clamped to epoch 2. The run screen maps the edges through the whole run's
step-metric curve (tui/step_axis.py, `whole`); the compare screen passed none."""

from __future__ import annotations

from pathlib import Path

from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard

from .test_tui_step_metric import _axis, _epochs_run, zoom_in_at_the_end
from .tui_helpers import SIZE, open_compare, settle


async def test_a_zoomed_compare_chart_maps_its_edges_through_the_step_metric(
    store: Path,
) -> None:
    _epochs_run()
    _epochs_run()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await open_compare(app, pilot)
        screen = app.screen
        await settle(pilot, lambda: any(c.key == "val/acc" for c in screen.query(ChartCard)))
        await zoom_in_at_the_end(pilot, screen)
        label, ticks = _axis(app, "val/acc")
        assert label == "epoch" and 1 < min(ticks) < 2 and max(ticks) == 4, (screen.x_range, ticks)
