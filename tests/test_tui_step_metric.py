"""A metric given a step metric by `define_metric(k, step_metric="epoch")` is charted against
it, as wandb's charts do: `val/acc` logged once an epoch draws against epochs 0..4, not
against the ~100 steps the run took, while a metric without one stays by step. The cursor,
the clicks and the zoom stay in steps underneath, so every chart still shares them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flightlog.tui import FlightlogApp
from flightlog.tui.charts import CURSOR_STYLE, ChartCard

from .tui_helpers import SIZE, charts_drawn, open_run, settle


def _epochs_run() -> None:
    import flightlog

    run = flightlog.init(project="p", name="epochs")
    run.define_metric("val/*", step_metric="epoch")
    for epoch in range(5):
        for i in range(20):
            run.log({"train/loss": 1 / (epoch * 20 + i + 1)})
        run.log({"epoch": epoch, "val/acc": 0.5 + epoch / 10})
    run.finish(quiet=True)


def _axis(app: FlightlogApp, key: str) -> tuple[str, list[float]]:
    """The x label and the x tick labels a chart shows."""
    card = next(c for c in app.screen.query(ChartCard) if c.key == key)
    lines = card.chart.render().plain.splitlines()
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    ticks = [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?", lines[bottom + 1])]
    return lines[bottom + 2].strip(), ticks


async def zoom_in_at_the_end(pilot: Any, screen: Any) -> None:
    """The cursor at the last point (step 104), zoomed in around it (steps 52-104), drawn."""
    await pilot.press("comma")
    await pilot.press("plus")
    await settle(pilot, lambda: screen.x_range is not None and screen.drawn_range)
    await settle(pilot, lambda: screen.drawn_range == screen.x_range)


async def test_a_metric_with_a_step_metric_is_charted_against_it(store: Path) -> None:
    _epochs_run()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        screen.charted = ["val/acc", "train/loss"]
        screen.redraw()
        await settle(pilot, lambda: charts_drawn(app) and len(app.screen.query(ChartCard)) == 2)
        label, ticks = _axis(app, "val/acc")
        assert label == "epoch" and ticks and max(ticks) <= 4, (label, ticks)
        label, ticks = _axis(app, "train/loss")
        assert label == "step" and max(ticks) > 50, (label, ticks)
        # the cursor, in steps, stands on val/acc's chart at its epoch: the last point
        await pilot.press("comma")
        card = next(c for c in app.screen.query(ChartCard) if c.key == "val/acc")
        await settle(pilot, lambda: "0.9 @ step 104" in str(card.query_one(".legend").render()))
        painted = card.chart.render()
        assert any(str(span.style) == CURSOR_STYLE for span in painted.spans)


async def test_compare_charts_a_metric_against_its_step_metric(store: Path) -> None:
    from .tui_helpers import open_compare

    _epochs_run()
    _epochs_run()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await open_compare(app, pilot)
        await settle(pilot, lambda: any(c.key == "val/acc" for c in app.screen.query(ChartCard)))
        label, ticks = _axis(app, "val/acc")
        assert label == "epoch" and ticks and max(ticks) <= 4, (label, ticks)


async def test_a_zoomed_step_metric_chart_maps_its_edges(store: Path) -> None:
    """Zoomed to steps 52-104, the step metric's curve re-read over that range starts at
    its first point inside it (epoch 2, step 62): step 52 lies between epochs 1 and 2, and
    the chart's left edge says so instead of clamping to 2."""
    _epochs_run()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        screen.charted = ["val/acc"]
        screen.redraw()
        await settle(pilot, lambda: [c.key for c in app.screen.query(ChartCard)] == ["val/acc"])
        await zoom_in_at_the_end(pilot, screen)
        label, ticks = _axis(app, "val/acc")
        assert label == "epoch" and 1 < min(ticks) < 2 and max(ticks) == 4, (screen.x_range, ticks)
