"""The step cursor reaching what is not recorded by step (the system pane, by wall time), and
the compare screen following runs while they train."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard
from flightlog.tui.context_screens import SystemPane

from .conftest import python_script
from .tui_helpers import open_run, settle

SAMPLED = """
    import flightlog, time
    run = flightlog.init(project="sys", id="s1")
    for i in range(40):
        run.log({"loss": 1 / (i + 1)})
        time.sleep(0.05)
    run.finish()
"""


def system_legends(screen) -> dict[str, str]:
    pane = screen.query_one(SystemPane)
    return {c.key: str(c.query_one(".legend").render()) for c in pane.query(ChartCard)}


def nearest_samples(api: flightlog.Api, at: float) -> dict[str, dict]:
    """metric -> the stored system sample with a value nearest wall time `at`."""
    samples = list(api.run("sys/s1").scan_history(stream="system"))
    keys = {k for s in samples for k in s if not k.startswith("_")}
    return {
        k: min(
            (s for s in samples if isinstance(s.get(k), int | float)),
            key=lambda s: abs(s["_timestamp"] - at),
        )
        for k in keys
    }


async def test_the_system_pane_follows_the_step_cursor_by_wall_time(
    store: Path, api: flightlog.Api
) -> None:
    res = python_script(SAMPLED, env={"FLIGHTLOG_STATS_INTERVAL": "0.1"})
    assert res.returncode == 0, res.stderr
    times = {r["_step"]: r["_timestamp"] for r in api.run("sys/s1").scan_history()}
    app = FlightlogApp(store)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("6")  # the system pane, under the charts
        pane = screen.query_one(SystemPane)
        await settle(
            pilot,
            lambda: pane.query(ChartCard) and all(c.chart.draws for c in pane.query(ChartCard)),
        )
        assert all(text == "" for text in system_legends(screen).values())  # no cursor yet
        for keys, step in ((["comma"], 39), (["less_than_sign", "less_than_sign"], 19)):
            await pilot.press(*keys)
            expected = nearest_samples(api, times[step])
            wanted = {k: f"{s[k]:.6g} @ {s['_runtime']:.1f} s" for k, s in expected.items()}
            await settle(
                pilot,
                lambda w=wanted: all(w[k] in text for k, text in system_legends(screen).items()),
            )
            assert round(screen.cursor) == step
            assert set(system_legends(screen)) == set(expected)
            for card in pane.query(ChartCard):  # each chart's cursor at its sample's run time
                assert card.chart.cursor == expected[card.key]["_runtime"]
        await pilot.press("0")  # the cursor off: the system legends go too
        await settle(pilot, lambda: all(t == "" for t in system_legends(screen).values()))
