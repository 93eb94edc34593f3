"""The step cursor reaching what is not recorded by step (the system pane, by wall time), and
the compare screen following runs while they train."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rich.text import Text

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.charts import ChartCard, MetricChart
from flightlog.tui.compare_media import CompareMedia
from flightlog.tui.context_screens import SystemPane
from flightlog.tui.runs_pane import RunsPane

from .tui_helpers import (
    legend_line,
    legends,
    open_compare,
    open_run,
    rows,
    settle,
    stop_trainers,
    wait_for_runs_dir,
)

SAMPLED = """
    import flightlog, sys, time
    run = flightlog.init(project="sys", id=sys.argv[1], name=sys.argv[1])
    for i in range(40):
        run.log({"loss": 1 / (i + 1)})
        time.sleep(0.05)
    run.finish()
"""


def system_legends(screen) -> dict[str, str]:
    """Each system chart's legend: in its title (in view in a pane lower than the chart)."""
    pane = screen.query_one(SystemPane)
    titles = {c.key: Text.from_markup(str(c.border_title)).plain for c in pane.query(MetricChart)}
    return {k: title.removeprefix(k) for k, title in titles.items()}


def sampled_run(run_id: str) -> None:
    """A run of 40 steps over ~2 s, its system metrics sampled every 0.1 s."""
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SAMPLED), run_id],
        env={**os.environ, "FLIGHTLOG_STATS_INTERVAL": "0.1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr


def nearest_samples(api: flightlog.Api, run_id: str, at: float) -> dict[str, dict]:
    """metric -> the stored system sample of a run with a value nearest wall time `at`."""
    samples = list(api.run(f"sys/{run_id}").scan_history(stream="system"))
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
    sampled_run("s1")
    times = {r["_step"]: r["_timestamp"] for r in api.run("sys/s1").scan_history()}
    app = FlightlogApp(store)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("6")  # the system pane, under the charts
        pane = screen.query_one(SystemPane)
        await settle(
            pilot,
            lambda: pane.query(MetricChart) and all(c.draws for c in pane.query(MetricChart)),
        )
        assert all(text == "" for text in system_legends(screen).values())  # no cursor yet
        for keys, step in ((["comma"], 39), (["less_than_sign", "less_than_sign"], 19)):
            await pilot.press(*keys)
            expected = nearest_samples(api, "s1", times[step])
            wanted = {k: f"{s[k]:.6g} @ {s['_runtime']:.1f} s" for k, s in expected.items()}
            await settle(
                pilot,
                lambda w=wanted: all(w[k] in text for k, text in system_legends(screen).items()),
            )
            assert round(screen.cursor) == step
            assert set(system_legends(screen)) == set(expected)
            for chart in pane.query(MetricChart):  # each chart's cursor at its sample's run time
                assert chart.cursor == expected[chart.key]["_runtime"]
        await pilot.press("0")  # the cursor off: the system legends go too
        await settle(pilot, lambda: all(t == "" for t in system_legends(screen).values()))


def wants(api: flightlog.Api, run_id: str, at: float) -> dict[str, str]:
    """metric -> what the system legend says of the run's sample nearest wall time `at`."""
    return {
        k: f"{s[k]:.6g} @ {s['_runtime']:.1f} s"
        for k, s in nearest_samples(api, run_id, at).items()
    }


async def test_the_compare_screens_system_pane_overlays_every_run_at_the_cursor(
    store: Path, api: flightlog.Api
) -> None:
    """Every compared run's system metrics in each chart, in the charts' colours; the legend
    reads each run's sample nearest the wall time of its own step at the cursor, and the
    chart's cursor is at the reference run's (pinned, else the first)."""
    for run_id in ("s1", "s2"):
        sampled_run(run_id)
    times = {
        run_id: {r["_step"]: r["_timestamp"] for r in api.run(f"sys/{run_id}").scan_history()}
        for run_id in ("s1", "s2")
    }
    app = FlightlogApp(store)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("6")
        pane = screen.query_one(SystemPane)
        first, other = screen.run_keys
        names = [screen.names[k] for k in (first, other)]
        await settle(
            pilot,
            lambda: pane.query(MetricChart) and all(c.draws for c in pane.query(MetricChart)),
        )
        for chart in pane.query(MetricChart):  # both runs drawn, named in the chart's legend
            picture = chart.render().plain
            assert all(name in picture for name in names), (chart.key, picture)
        assert all(n in str(pane.query_one("#system-title").render()) for n in names)
        screen.set_cursor(20.0)
        for reference in (first, other):
            ref_name = screen.names[reference]
            wanted = {n: wants(api, n, times[n][20]) for n in names}
            await settle(
                pilot,
                lambda w=wanted, r=reference: (
                    pane.run_key == r
                    and set(system_legends(screen)) == set(w[names[0]]) | set(w[names[1]])
                    and all(
                        w[n][k] in t
                        for n in names
                        for k, t in system_legends(screen).items()
                        if k in w[n]
                    )
                ),
            )
            samples = nearest_samples(api, ref_name, times[ref_name][20])
            for chart in pane.query(MetricChart):  # the cursor at the reference's sample
                assert chart.cursor == samples[chart.key]["_runtime"]
            if reference == first:  # pin the other run: it is the reference now
                runs = screen.query_one(RunsPane)
                runs.focus()
                runs.move_cursor(row=[r["run_key"] for r in runs.run_rows].index(other))
                await pilot.press("p")


TRAINER = """
    import flightlog, numpy as np, os, sys, time
    name, scale, stop = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    run = flightlog.init(project="live", id=name, name=name)
    end, i = time.monotonic() + 300, 0
    while time.monotonic() < end and not os.path.exists(stop):  # until the test has seen enough
        row = {"loss": scale * i}
        if i % 100 == 0:
            row["sample"] = flightlog.Image(np.full((8, 8, 3), i % 256, dtype=np.uint8))
        run.log(row)
        i += 1
        time.sleep(0.005)
    run.finish()
"""


def summary_text(screen, key: str, column: int):
    """A cell of the compare screen's summary table (column 1 is the first run's), as Text."""
    table = screen.query_one("#summary")
    row = next(r for r in range(table.row_count) if str(table.get_row_at(r)[0]) == key)
    return table.get_row_at(row)[column]


def summary_cell(screen, key: str, column: int) -> str:
    return str(summary_text(screen, key, column))


async def test_the_compare_screen_follows_training_runs_keeping_zoom_and_cursor(
    store: Path,
) -> None:
    stop = store.parent / "stop-training"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(TRAINER), name, scale, str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, scale in (("a", "1"), ("b", "2"))
    ]
    try:
        wait_for_runs_dir(store)
        app = FlightlogApp(store)
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot, lambda: len(rows(app)) == 2 and {r[1] for r in rows(app)} == {"●"})
            screen = await open_compare(app, pilot)
            await settle(pilot, lambda: screen.bounds and screen.bounds[1] > 300)
            by_name = {n: k for k, n in screen.names.items()}
            col_a = 1 + screen.run_keys.index(by_name["a"])  # its summary column
            await pilot.press("8")  # the media pane: each run's last image
            media = screen.query_one(CompareMedia)
            await settle(pilot, lambda: media.loaded and media.current()[by_name["a"]])
            screen.set_range(100.0, 200.0)
            screen.set_cursor(150.0)
            await settle(pilot, lambda: all("@ step 150 " in t for t in legends(app).values()))
            seen = screen.bounds[1]
            loss_a = float(summary_cell(screen, "loss", col_a))
            await settle(pilot, lambda: screen.bounds[1] > seen + 200)  # the live reloads
            await settle(pilot, lambda: float(summary_cell(screen, "loss", col_a)) > loss_a)
            # new images arrive with the live reloads; the one shown stays the cursor's
            # (the last logged at or before step 150: step 100's)
            logged = list(media.media[by_name["a"]]["sample"].steps)
            await settle(pilot, lambda: media.media[by_name["a"]]["sample"].steps[-1] > logged[-1])
            at_cursor = media.media[by_name["a"]]["sample"]
            assert media.current()[by_name["a"]] == at_cursor.refs[at_cursor.steps.index(100)]
            assert screen.x_range == (100.0, 200.0) and screen.cursor == 150.0
            for name, scale in (("a", 1.0), ("b", 2.0)):
                curve = screen.curves["loss"][by_name[name]]
                assert curve["x"] == list(range(100, 201))  # one bucket a step, none beyond
                assert curve["last"] == [scale * i for i in range(100, 201)]
            chart = screen.query_one(ChartCard).chart
            assert chart.x_view == (100.0, 200.0) and chart.cursor == 150.0
            lines = legends(app)["loss"].splitlines()
            assert "150 @ step 150 " in legend_line(lines, "a")
            assert "300 @ step 150 " in legend_line(lines, "b")
            # the lower loss is the best (in green) as the runs go on
            assert "green" in str(summary_text(screen, "loss", col_a).style)
    finally:
        stop_trainers(stop, procs)


async def test_tab_moves_the_keys_pane_to_pane_past_the_text_boxes(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("5", "7")  # the runs list and the console too
        await settle(pilot, lambda: screen.query_one("#console").display)
        screen.query_one("#metrics").focus()
        order = ["config", "charts", "console-log", "runs", "metrics"]  # the registry's order
        for expected in order:
            await pilot.press("tab")
            await settle(pilot, lambda e=expected: screen.focused.id == e)
        for expected in reversed(order[:-1]):
            await pilot.press("shift+tab")
            await settle(pilot, lambda e=expected: screen.focused.id == e)
        await pilot.press("/")  # the regex bar: tab leaves it for the first pane
        await settle(pilot, lambda: screen.focused.id == "regex")
        await pilot.press("tab", "7")  # a pane key again, not typed into a text box
        await settle(pilot, lambda: not screen.query_one("#console").display)
        assert screen.focused.id == "runs" and screen.query_one("#regex").value == ""


async def test_the_system_pane_of_a_finished_run_is_not_redrawn_by_each_refresh(
    store: Path, monkeypatch
) -> None:
    """The pane reads the run's samples again every refresh; a draw costs ~50-150 ms a chart
    on a busy machine, so samples that did not change leave the charts as they are."""
    sampled_run("s1")
    shown = []
    real_show = SystemPane.show

    async def counted(pane: SystemPane, *args, **kwargs) -> None:
        await real_show(pane, *args, **kwargs)
        shown.append(pane.run_key)

    monkeypatch.setattr(SystemPane, "show", counted)
    app = FlightlogApp(store)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("6")
        pane = screen.query_one(SystemPane)
        await settle(pilot, lambda: pane.query(MetricChart) and shown)
        draws = {c.key: c.draws for c in pane.query(MetricChart)}
        assert all(draws.values())
        seen = len(shown)
        await settle(pilot, lambda: len(shown) >= seen + 2)  # two refreshes read it again
        assert {c.key: c.draws for c in pane.query(MetricChart)} == draws
