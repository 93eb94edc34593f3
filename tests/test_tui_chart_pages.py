"""Every metric key can be charted, however many a run logged: a screen draws a page of charts
at a time, says how many keys it does not draw and how to reach them (n / N turn the pages,
/ narrows the keys by name, as wandb's panel search), on the compare and run screens."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard

from .test_tui_step_metric import _axis
from .tui_helpers import SIZE, charts_drawn, open_compare, open_run, settle, type_text

KEYS = [f"m{i:02d}" for i in range(20)]


def _wide_runs(n: int = 2) -> None:
    """Runs logging 20 metrics each, and `zz/val` against an `epoch` step metric: sorted by
    name, the step-metric run's metric comes last, past every first page."""
    for r in range(n):
        run = flightlog.init(project="p", name=f"wide{r}", reinit=True)
        run.define_metric("zz/*", step_metric="epoch")
        for epoch in range(5):
            for i in range(10):
                run.log({k: (r + 1) * (epoch * 10 + i) / (j + 1) for j, k in enumerate(KEYS)})
            run.log({"epoch": epoch, "zz/val": 0.5 + epoch / 10})
        run.finish(quiet=True)


def charted(app: FlightlogApp) -> list[str]:
    return [c.key for c in app.screen.query(ChartCard)]


def status(app: FlightlogApp) -> str:
    line = app.screen.query_one("#chart-status")
    return str(line.render()) if line.display else ""


async def test_compare_reaches_every_key_by_pages_and_by_name(store: Path) -> None:
    _wide_runs()
    every = sorted([*KEYS, "epoch", "zz/val"])
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(app, pilot)
        first = charted(app)
        assert first == every[:8]
        assert "14 of 22 keys not drawn" in status(app), status(app)
        assert "n / N" in status(app) and "/" in status(app)
        seen = list(first)
        for page in (2, 3):
            await pilot.press("n")
            await settle(pilot, lambda p=page: charted(app) == every[8 * (p - 1) : 8 * p][:8])
            await settle(pilot, lambda: charts_drawn(app))
            seen += charted(app)
        assert sorted(seen) == every
        await pilot.press("n")  # past the last page: the first again
        await settle(pilot, lambda: charted(app) == every[:8])
        await pilot.press("N")  # and back: the last
        await settle(pilot, lambda: charted(app) == every[16:])

        await pilot.press("slash")
        await type_text(pilot, "zz")
        await pilot.press("enter")
        await settle(pilot, lambda: charted(app) == ["zz/val"] and charts_drawn(app))
        assert "21 of 22 keys not drawn" in status(app), status(app)
        label, ticks = _axis(app, "zz/val")  # against its step metric, as on the run screen
        assert label == "epoch" and max(ticks) <= 4, (label, ticks)
        await pilot.press("escape")  # out of the filter box; the filter stays
        assert charted(app) == ["zz/val"] and screen.focused is not None


async def test_compare_of_few_keys_says_nothing_is_hidden(store: Path) -> None:
    for r in range(2):
        run = flightlog.init(project="p", name=f"r{r}", reinit=True)
        for i in range(10):
            run.log({"loss": 1 / (i + 1), "acc": i / 10})
        run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await open_compare(app, pilot)
        assert charted(app) == ["acc", "loss"]
        assert status(app) == ""


async def test_run_screen_says_how_many_matches_it_hides_and_pages_to_them(store: Path) -> None:
    _wide_runs(1)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        await settle(pilot, lambda: "18 of 22 metrics not drawn" in status(app))
        assert "enter on a metric" in status(app)  # the first 4 are charted
        await pilot.press("slash")
        await type_text(pilot, "m")
        await settle(pilot, lambda: charted(app) == KEYS[:12] and charts_drawn(app))
        assert "8 of 20 metrics matching m not drawn" in status(app), status(app)
        assert "n / N" in status(app)
        await pilot.press("escape")  # the keys back to the panes
        await pilot.press("n")
        await settle(pilot, lambda: charted(app) == KEYS[12:] and charts_drawn(app))
        assert screen.regex is not None
