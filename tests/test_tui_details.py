"""The small things a newcomer tripped over in the terminal UI, each as a user sees it."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.compare_screen import CompareScreen
from flightlog.tui.context_screens import ConsoleScreen
from flightlog.tui.run_screen import RunScreen

from .tui_helpers import SIZE, names, rows, settle, still


def summary_rows(app: FlightlogApp) -> dict[str, list]:
    table = app.screen.query_one("#summary")
    out = {}
    for i in range(table.row_count):
        row = table.get_row_at(i)
        out[str(row[0])] = row[1:]
    return out


def green(cells: list) -> list[str]:
    return [str(c) for c in cells[:-1] if "green" in str(c.style)]


async def test_compare_best_follows_define_metric_or_the_name_and_says_which(
    store: Path,
) -> None:
    for i, (score, norm) in enumerate([(0.2, 5.0), (0.9, 1.0)]):
        run = flightlog.init(project="p", name=f"r{i}", reinit=True)
        run.define_metric("score", goal="minimize")  # lower is better, whatever the name
        run.log({"score": score, "grad_norm": norm, "val/acc": score, "train/loss": norm})
        run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        await pilot.press("space", "space", "c")
        await settle(
            pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.query("#summary")
        )
        await settle(pilot, lambda: len(summary_rows(app)) == 4)
        got = summary_rows(app)
        assert green(got["score"]) == ["0.2"] and str(got["score"][-1]) == "lower (goal=minimize)"
        assert green(got["val/acc"]) == ["0.9"] and str(got["val/acc"][-1]) == "higher (name: acc)"
        assert green(got["train/loss"]) == ["1"]
        assert green(got["grad_norm"]) == [] and str(got["grad_norm"][-1]) == "-"  # no rule


async def test_none_config_values_and_singular_counts(store: Path) -> None:
    run = flightlog.init(project="p", name="solo", config={"betas": None, "lr": 0.1})
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 1)
        status = str(app.screen.query_one("#status").render())
        assert status.startswith("1 run ·")
        await pilot.press("enter")
        await settle(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
        )
        assert "· 1 step" in str(app.screen.query_one("#overview").render())
        assert "1 steps" not in str(app.screen.query_one("#overview").render())
        leaves = [str(n.label) for n in app.screen.query_one("#config").root.children]
        assert "betas = None" in leaves and "lr = 0.1" in leaves


async def test_console_wraps_long_lines_and_says_no_output_once(store: Path) -> None:
    import os

    long = "x" * 150 + "END"
    run = flightlog.init(project="p", name="talks", reinit=True)
    (Path(run.dir) / "files").mkdir(exist_ok=True)
    (Path(run.dir) / "files" / "output.log").write_text(f"short\n{long}\n")
    run.finish(quiet=True)
    quiet = flightlog.init(project="p", name="silent", reinit=True)
    quiet.finish(quiet=True)
    log = Path(quiet.dir) / "files" / "output.log"
    if log.exists():
        os.unlink(log)
    app = FlightlogApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        app.screen.query_one("RunsTable").move_cursor(row=names(app).index("talks"))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, ConsoleScreen) and app.screen.lines)

        def shown() -> list[str]:
            log = app.screen.query_one("#console-log")
            return ["".join(seg.text for seg in line).rstrip() for line in log.lines]

        await settle(pilot, lambda: "".join(shown()[1:]) == long)  # once written at its width
        assert all(len(line) <= 80 for line in shown())  # wrapped
        await pilot.press("escape", "escape")
        app.screen.query_one("RunsTable").move_cursor(row=names(app).index("silent"))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        await pilot.pause(4.5)  # two refreshes
        lines = app.screen.query_one("#console-log").lines
        assert len(lines) == 1 and "no console output" in lines[0].text


async def test_charts_draw_no_stray_dots(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and len(app.screen.query("MetricChart")) == 4
                and all(c.draws for c in app.screen.query("MetricChart"))
            ),
        )
        await still(pilot)  # the drawn charts painted
        screen = app.export_screenshot()
        assert "⣀" in screen or "⡇" in screen  # the curves are drawn
        assert "•" not in screen


async def test_the_status_line_shows_the_filter_in_force_as_typed(samples: Path) -> None:
    from .test_tui import type_text

    app = FlightlogApp(samples)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("slash")
        await type_text(pilot, "'[b]x' or moss")  # markup-like text is shown, not applied
        await pilot.press("enter")
        await settle(pilot, lambda: len(rows(app)) == 1)
        status = str(app.screen.query_one("#status").render())
        assert status.startswith("1 run · 1 finished") and "filter '[b]x' or moss" in status
