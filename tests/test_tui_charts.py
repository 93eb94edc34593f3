"""Charts you can read: the step cursor's exact values, zoom that re-queries, live under zoom."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest

import flightlog
from flightlog.store.index import Index
from flightlog.store.query import downsample
from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

from .conftest import spawn
from .resumed_run import finished_run, resumed_writer
from .tui_helpers import (
    SIZE,
    SIZES,
    charts_drawn,
    legend_line,
    legends,
    names,
    open_compare,
    open_run,
    rows,
    settle,
    still,
    stop_trainers,
    stored,
    wait_for_runs_dir,
)


async def test_cursor_reads_exact_values_for_every_chart_and_run(store: Path) -> None:
    """Two runs on the compare screen, one logging `acc` only every 10 steps: the legend under
    each chart shows each run's stored value at its nearest logged step."""
    for name, scale in (("a", 1.0), ("b", 3.0)):
        run = flightlog.init(project="p", name=name, reinit=True)
        for i in range(1000):
            row = {"loss": scale * ((i * 7919) % 1000) / 1000}  # no smooth curve to guess from
            if i % 10 == 0 and name == "b":
                row["acc"] = i / 1000
            if name == "a":
                row["acc"] = 0.5 + i / 10_000
            run.log(row)
        run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("comma")  # the cursor appears on the last point
        await settle(pilot, lambda: "step" in legends(app).get("loss", ""))
        for _ in range(3):
            await pilot.press("less_than_sign")
        await settle(pilot, lambda: screen.readings and screen.cursor < 990)
        at = screen.cursor
        await settle(pilot, lambda: f"step {round(at)}" in legends(app)["loss"])
        got = legends(app)
        a_key = next(k for k, v in screen.names.items() if v == "a")
        b_key = next(k for k, v in screen.names.items() if v == "b")
        step = round(at)
        b_step = min(range(0, 1000, 10), key=lambda s: (abs(s - at), s))
        loss_lines = got["loss"].splitlines()
        acc_lines = got["acc"].splitlines()
        for lines, run_key, metric, at_step in (
            (loss_lines, a_key, "loss", step),
            (loss_lines, b_key, "loss", step),
            (acc_lines, a_key, "acc", step),
            (acc_lines, b_key, "acc", b_step),  # b logs acc every 10 steps
        ):
            value = stored(store, run_key, metric, at_step)
            label = screen.names[run_key]
            assert f"{value:.6g} @ step {at_step}" in legend_line(lines, label)


def spike_run() -> str:
    """100,000 steps of a flat 1.0 with one step at 50.0 and its neighbours at 0.0: at full
    range the spike's bucket ends on 1.0, so the line (bucket's last value) never shows it."""
    run = flightlog.init(project="p", name="spiky")
    for i in range(100_000):
        run.log({"loss": 50.0 if i == 73_333 else 1.0})
    run.finish(quiet=True)
    return f"p/{run.id}"


async def test_zoom_requeries_and_reveals_a_single_step_spike(store: Path) -> None:
    run_key = spike_run()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        assert max(screen.detail.curves["loss"]["last"]) == 1.0  # the line hides it
        screen.set_cursor(73_333.0)
        for _ in range(12):  # 100,000 steps -> ~24 steps across: one bucket per step
            await pilot.press("plus")
        await settle(
            pilot,
            lambda: (
                screen.x_range is not None
                and screen.x_range[1] - screen.x_range[0] < 240
                and screen.curves_range == screen.x_range  # the curves of this range
                and 50.0 in screen.detail.curves["loss"]["last"]
            ),
        )
        curve = screen.detail.curves["loss"]
        assert curve["x"][curve["last"].index(50.0)] == 73_333  # exactly at its step
        assert all(screen.x_range[0] <= x <= screen.x_range[1] for x in curve["x"])
        with Index(store) as idx:  # what the UI drew is the store's downsample of the range
            table = downsample(idx, [run_key], "loss", buckets=240, x_range=screen.x_range)
        assert table.column("vlast").to_pylist() == curve["last"]
        await pilot.press("0")
        await settle(
            pilot, lambda: screen.x_range is None and len(screen.detail.curves["loss"]["x"]) == 240
        )
        assert max(screen.detail.curves["loss"]["last"]) == 1.0


async def test_a_live_run_keeps_its_zoomed_range_while_it_grows(store: Path) -> None:
    stop = store.parent / "stop-training"
    proc = spawn(f"""
        import flightlog, os, time
        run = flightlog.init(project="live", name="trainer")
        end, i = time.monotonic() + 300, 0
        while time.monotonic() < end and not os.path.exists({str(stop)!r}):
            run.log({{"loss": float(i)}})  # until the test has seen what it needs
            i += 1
            time.sleep(0.005)
        run.finish()
    """)
    try:
        wait_for_runs_dir(store)
        app = FlightlogApp(store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: rows(app) and rows(app)[0][1] == "●")
            screen = await open_run(app, pilot)
            await settle(pilot, lambda: screen.detail.x_bounds and screen.detail.x_bounds[1] > 300)
            screen.set_range(100.0, 200.0)
            await settle(pilot, lambda: screen.detail.curves["loss"]["x"][0] == 100)
            seen = screen.detail.x_bounds[1]
            await settle(pilot, lambda: screen.detail.x_bounds[1] > seen + 200)  # live reloads
            assert screen.x_range == (100.0, 200.0)
            curve = screen.detail.curves["loss"]
            assert curve["x"] == list(range(100, 201))  # one bucket per step, nothing beyond
            assert curve["last"] == [float(i) for i in range(100, 201)]
            assert screen.query_one(ChartCard).chart.x_view == (100.0, 200.0)
    finally:
        stop_trainers(stop, [proc])


async def test_a_finished_run_resumed_while_its_screen_is_open_shows_the_new_rows(
    store: Path,
) -> None:
    """The run screen of a finished run keeps its segment listing for zooms: a real writer
    resuming the run makes the screen reload (running, steps 100-199) and a zoom read them."""
    run_key = finished_run(store)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        assert screen.run_key == run_key and screen.detail.x_bounds == (0, 99)
        proc = resumed_writer(store)
        try:
            await settle(
                pilot,
                lambda: (
                    screen.detail.row["state"] == "running" and screen.detail.x_bounds == (0, 199)
                ),
            )
            screen.set_range(150.0, 199.0)
            await settle(pilot, lambda: screen.curves_range == (150.0, 199.0))
            curve = screen.detail.curves["loss"]
            assert curve["x"] == list(range(150, 200))
            assert curve["last"] == [1000.0 + i for i in range(50, 100)]
        finally:
            stop_trainers(store.parent / "stop", [proc])
        await settle(pilot, lambda: screen.detail.row["state"] == "finished")


async def test_click_puts_the_cursor_and_the_wheel_zooms_around_the_mouse(store: Path) -> None:
    from textual import events

    run = flightlog.init(project="p", name="clicks")
    for i in range(1001):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        chart = screen.query_one(ChartCard).chart
        start, width = chart._canvas
        await pilot.click(chart, offset=(start + width // 2, 5))  # the middle of the plot
        await settle(pilot, lambda: screen.cursor is not None and "step" in legends(app)["loss"])
        assert 400 < screen.cursor < 600
        step = round(screen.cursor)
        assert f"{float(step):.6g} @ step {step}" in legends(app)["loss"]
        chart.post_message(chart.Wheeled(step, 0.5))  # what a wheel-up over that x sends
        await settle(pilot, lambda: screen.x_range is not None and chart.x_view == screen.x_range)
        lo, hi = screen.x_range
        assert hi - lo == 500 and lo < step < hi
        assert "zoom" in str(chart.border_subtitle)
        event = events.MouseScrollDown(chart, start + width // 2, 5, 0, 0, 0, False, False, False)
        chart.post_message(event)  # the wheel back out: the whole run again
        await settle(pilot, lambda: screen.x_range is None and chart.x_view == (0, 1000))


@pytest.mark.usefixtures("sample_cwd")
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_panes_hidden_grid_and_cursor(snap_compare, size: str) -> None:
    """Overview and config hidden (1, 3), charts in 2 columns (g), the cursor on a step (,):
    at 80x24 the charts and the metric table share the width, nothing clipped."""

    async def ready(pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: len(rows(app)) == 12)
        app.screen.query_one(RunsTable).move_cursor(row=names(app).index("wild-sea-10"))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and charts_drawn(app))
        await pilot.press("1", "3", "g", "comma", "less_than_sign")
        await settle(pilot, lambda: all("step" in v for v in legends(app).values()))
        # the "charts in 2 columns" toast lasts seconds: on a loaded machine it was still up
        # when the picture settled, so it goes before the snapshot, whatever the timing
        app.clear_notifications()
        await still(pilot)

    assert snap_compare(FlightlogApp(Path("samples")), terminal_size=SIZES[size], run_before=ready)


async def test_panes_toggle_and_the_charts_take_the_width(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot)
        left = screen.query_one("#run-left")
        await pilot.press("1", "2", "3")  # every left pane hidden: the column goes
        await pilot.pause()
        assert not left.display
        assert screen.query_one("#charts").size.width >= 78
        await pilot.press("2")
        await pilot.pause()
        assert left.display and screen.query_one("#metrics").display
        await pilot.press("4")  # charts hidden: the table has the width
        await pilot.pause()
        assert not screen.query_one("#run-right").display
        assert screen.query_one("#metrics").size.width >= 78


async def test_a_draw_replaced_before_it_started_leaves_no_coroutine_behind(store: Path) -> None:
    """Toggles redraw at once; a redraw replaced by the next before it ran (exclusive workers)
    used to leave a coroutine never awaited: a RuntimeWarning printed under a loaded machine."""
    run = flightlog.init(project="p", name="redraws")
    for i in range(100):
        run.log({"loss": 1 / (i + 1), "acc": i / 100})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            for _ in range(5):
                screen.redraw()  # each cancels the one before, which has not started
            await settle(pilot, lambda: charts_drawn(app))
            gc.collect()
        assert not [w for w in said if "never awaited" in str(w.message)]
