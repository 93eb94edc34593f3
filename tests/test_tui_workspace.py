"""One workspace: panes toggled by keys and visible together, hidden (and said) when the
terminal is too small, the layout remembered across sessions, the console filter, overlaid
runs with a pinned reference, and panes that follow the step cursor."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from textual.widgets import Static

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.compare_screen import COMPARE_PANES
from flightlog.tui.context_screens import ConsolePane
from flightlog.tui.run_panes import RUN_PANES
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_pane import RunsPane
from flightlog.tui.runs_table import RunsTable
from flightlog.tui.workspace import Pane, pane_bindings

from .terminal import tui_in_tmux
from .tui_helpers import (
    SIZES,
    charts_drawn,
    help_text,
    legend_line,
    legends,
    names,
    open_compare,
    open_run,
    rows,
    settle,
    still,
    stored,
    type_text,
)

BIG = (200, 50)


def record_notices(app: FlightlogApp) -> list[str]:
    """Every notification the app shows from now on (toasts time out; this list does not)."""
    seen: list[str] = []
    shown = app.notify

    def notify(message, *args, **kwargs):
        seen.append(str(message))
        return shown(message, *args, **kwargs)

    app.notify = notify
    return seen


def shown(screen) -> set[str]:
    return {p.name for p in screen.PANES if screen.query_one(f"#{p.name}").display}


def layout_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "tui-layout.json"  # FLIGHTLOG_CONFIG_DIR of conftest


async def test_each_pane_toggles_by_its_key_on_the_run_and_compare_screens(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        assert shown(screen) == {"overview", "metrics", "config", "charts"}
        for pane in RUN_PANES:
            before = pane.name in shown(screen)
            await pilot.press(pane.key)
            await settle(pilot, lambda p=pane, b=before: (p.name in shown(screen)) != b)
        # every pane shown at once: the ones that were off are on, together
        assert shown(screen) == {"runs", "system", "console", "media"}
        for pane in RUN_PANES:
            if pane.name not in shown(screen):
                await pilot.press(pane.key)
        await settle(pilot, lambda: shown(screen) == {p.name for p in RUN_PANES})
        assert screen.too_small == []
        for pane in RUN_PANES:  # each on screen, at least as tall as it needs
            w = screen.query_one(f"#{pane.name}")
            assert w.region.height >= pane.min_height, pane.name
            assert w.region.right <= BIG[0] and w.region.bottom <= BIG[1] - 1, pane.name
        await pilot.press("escape")
        compare = await open_compare(app, pilot, listed=12)
        assert shown(compare) == {p.name for p in COMPARE_PANES if p.default}
        for pane in COMPARE_PANES:
            before = pane.name in shown(compare)
            await pilot.press(pane.key)
            await settle(pilot, lambda p=pane, b=before: (p.name in shown(compare)) != b)
        assert shown(compare) == {p.name for p in COMPARE_PANES if not p.default}


async def test_at_80x24_panes_are_hidden_not_clipped_and_the_user_is_told(samples: Path) -> None:
    app = FlightlogApp(samples)
    notices = record_notices(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("5", "6", "7")  # runs, system, console on top of the four
        await settle(pilot, lambda: screen.too_small)
        hidden = screen.too_small
        assert {"runs", "system", "console"} <= shown(screen)  # the panes just asked for
        never_asked = {"media"}  # 8: not pressed
        assert set(hidden) == {p.name for p in RUN_PANES} - shown(screen) - never_asked
        told = [n for n in notices if "too small" in n]
        assert told and all(name in told[-1] for name in hidden)
        for name in shown(screen):  # nothing shown is cut: each pane has its minimum height
            pane = next(p for p in RUN_PANES if p.name == name)
            w = screen.query_one(f"#{name}")
            assert w.region.height >= pane.min_height and w.region.bottom <= 23, name
        await pilot.press("6", "7")  # hide two: the hidden panes come back
        await settle(pilot, lambda: screen.too_small == [])
        assert set(hidden) <= shown(screen)


async def test_the_layout_is_remembered_across_restarts(samples: Path, tmp_path: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("7", "1", "g", "g", "G", "m", "l", "x")
        await settle(pilot, lambda: screen.x_axis == "time" and charts_drawn(app))
    saved = json.loads(layout_file(tmp_path).read_text())["run"]
    assert saved["panes"][0] == "console" and "overview" not in saved["panes"]
    app = FlightlogApp(samples)  # a new session
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        await settle(pilot, lambda: screen.query_one("#console-log").lines)
        assert shown(screen) == {"metrics", "config", "charts", "console"}
        layout = screen.ws_layout
        assert (layout.columns, layout.rows, layout.smoothing, layout.log_y) == (3, 1, 1, True)
        assert screen.x_axis == "time"
        chart_box = screen.query_one("#charts")
        assert chart_box.styles.grid_size_columns == 3


async def test_a_damaged_layout_file_is_ignored_with_one_notice(
    samples: Path, tmp_path: Path
) -> None:
    path = layout_file(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"run": {"panes": ["console", ')  # a torn write by someone else
    app = FlightlogApp(samples)
    notices = record_notices(app)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        assert shown(screen) == {"overview", "metrics", "config", "charts"}  # the defaults
        told = [n for n in notices if "tui-layout.json is not valid JSON" in n]
        assert len(told) == 1
        await pilot.press("escape")
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("enter")  # the same file again: not said twice
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and charts_drawn(app))
        assert len([n for n in notices if "not valid JSON" in n]) == 1
        await pilot.press("7")  # a change writes a good file
        await settle(pilot, lambda: "console" in shown(app.screen))
    assert json.loads(path.read_text())["run"]["panes"][0] == "console"


async def test_console_pane_filters_lines_as_typed_and_shows_escapes(store: Path) -> None:
    run = flightlog.init(project="p", name="talks")
    lines = [f"epoch {i} loss {1 / (i + 1):.3f}" for i in range(30)]
    lines += ["\x1b[31mloss is nan\x1b[0m, giving up", "checkpoint saved"]
    (Path(run.dir) / "files").mkdir(exist_ok=True)
    (Path(run.dir) / "files" / "output.log").write_text("\n".join(lines) + "\n")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        await pilot.press("f")  # shows the console pane and puts the keys in its filter
        pane = screen.query_one(ConsolePane)
        await settle(pilot, lambda: len(pane.lines) == 32)
        assert screen.focused is screen.query_one("#console-filter")
        await type_text(pilot, "LOSS IS")
        await settle(pilot, lambda: len(pane.shown()) == 1)
        log = screen.query_one("#console-log")
        await settle(pilot, lambda: len(log.lines) == 1)
        text = log.lines[0].text
        assert "loss is nan" in text and "\x1b" not in text and "\\x1b[31m" in text
        await pilot.press("escape")  # the keys go back to the workspace, the filter stays
        await pilot.press("backspace")
        assert len(pane.shown()) == 1
        screen.query_one("#console-filter").value = "epoch 2"
        await settle(pilot, lambda: len(log.lines) == 11)  # epoch 2, 20-29


def two_runs() -> dict[str, str]:
    """Two runs of one project; `b` logs `acc` only every 10 steps."""
    keys = {}
    for name, scale in (("a", 1.0), ("b", 3.0)):
        run = flightlog.init(project="p", name=name, reinit=True)
        for i in range(300):
            row = {"loss": scale * ((i * 7919) % 1000) / 1000}
            if name == "a" or i % 10 == 0:
                row["acc"] = i / 1000 * scale
            run.log(row)
        run.finish(quiet=True)
        keys[name] = f"p/{run.id}"
    return keys


async def test_runs_pane_overlays_a_run_and_pins_it_as_the_reference(store: Path) -> None:
    keys = two_runs()
    app = FlightlogApp(store)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        app.screen.query_one(RunsTable).move_cursor(row=names(app).index("a"))
        screen = await open_run(app, pilot)
        assert screen.run_key == keys["a"]
        await pilot.press("5")
        pane = screen.query_one(RunsPane)
        await settle(pilot, lambda: pane.row_count == 2)
        pane.focus()
        await pilot.press("down", "p")  # pin b: it is overlaid and the reference
        await settle(pilot, lambda: all(len(v) == 2 for v in screen.plotted().values()))
        assert screen.chart_runs() == [keys["b"], keys["a"]] and screen.pinned == keys["b"]
        assert str(pane.get_row_at(1)[0]) == "★"
        screen.set_cursor(125.0)
        await settle(pilot, lambda: "Δ" in legends(app).get("acc", ""))
        acc = legends(app)["acc"].splitlines()
        assert acc[0].startswith("━━ ★ b ")  # the reference first
        a_val, b_val = stored(store, keys["a"], "acc", 125), stored(store, keys["b"], "acc", 120)
        assert f"{b_val:.6g} @ step 120" in acc[0]  # b logs acc every 10 steps
        assert f"{a_val:.6g} @ step 125 " in legend_line(acc, "a")
        assert f"Δ {a_val - b_val:+.4g}" in legend_line(acc, "a")
        await pilot.press("space")  # b no longer overlaid (nor pinned)
        await settle(pilot, lambda: all(len(v) == 1 for v in screen.plotted().values()))
        assert screen.pinned is None and screen.chart_runs() == [keys["a"]]


async def test_compare_screen_pins_a_run_and_reads_exact_values(store: Path) -> None:
    keys = two_runs()
    app = FlightlogApp(store)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_compare(app, pilot)
        pane = screen.query_one(RunsPane)
        pane.focus()
        pane.move_cursor(row=[r["run_key"] for r in pane.run_rows].index(keys["b"]))
        await pilot.press("p")
        await settle(pilot, lambda: screen.chart_runs()[0] == keys["b"])
        screen.set_cursor(125.0)
        await settle(pilot, lambda: "Δ" in legends(app).get("acc", ""))
        for metric, b_step in (("acc", 120), ("loss", 125)):  # b logs acc every 10 steps
            lines = legends(app)[metric].splitlines()
            a_val = stored(store, keys["a"], metric, 125)
            b_val = stored(store, keys["b"], metric, b_step)
            assert lines[0].startswith("━━ ★ b ")  # the reference first
            assert f"{b_val:.6g} @ step {b_step} " in lines[0]
            assert f"{a_val:.6g} @ step 125 " in legend_line(lines, "a")
            assert f"Δ {a_val - b_val:+.4g}" in legend_line(lines, "a")
        legend = str(screen.query_one("#legend").render())
        assert legend.index("★ b") < legend.index(" a (")


# -- a pane that follows the step cursor (how the media pane is wired) --------------------------


class StepProbe(Static):
    """A pane with `show_step`, as tui/media_pane.py has."""

    def __init__(self, **kwargs) -> None:
        super().__init__("no step", **kwargs)
        self.steps: list[int] = []

    def show_step(self, step: int) -> None:
        self.steps.append(step)
        self.update(f"step {step}")


PROBE = Pane("media", "8", "media", "bottom", 8, lambda s: StepProbe(id="media"), default=False)


class ProbedRunScreen(RunScreen):
    PANES = (*(p for p in RUN_PANES if p.name != PROBE.name), PROBE)
    BINDINGS = pane_bindings((PROBE,))[:1]  # Textual adds the run screen's own


async def test_a_pane_with_show_step_follows_the_cursor(store: Path) -> None:
    keys = two_runs()
    app = FlightlogApp(store)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        app.push_screen(ProbedRunScreen(store, keys["a"]))
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and charts_drawn(app))
        screen = app.screen
        await pilot.press("8", "comma")
        probe = screen.query_one(StepProbe)
        await settle(pilot, lambda: probe.steps)
        assert probe.display and probe.steps[-1] == 299
        await pilot.press("less_than_sign")
        await settle(pilot, lambda: probe.steps[-1] < 299)
        assert probe.steps[-1] == round(screen.cursor)
        assert str(probe.render()) == f"step {probe.steps[-1]}"


# -- snapshots -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("sample_cwd")
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_every_pane_on(snap_compare, size: str) -> None:
    """Runs, system and console panes on (5 6 7): at 200x50 all seven panes together, at
    80x24 the least recently shown hidden (and said), none clipped."""

    async def ready(pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: len(rows(app)) == 12)
        app.screen.query_one(RunsTable).move_cursor(row=names(app).index("wild-sea-10"))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and charts_drawn(app))
        await pilot.press("5", "6", "7")
        screen = app.screen
        await settle(
            pilot,
            lambda: (
                screen.query_one(RunsPane).row_count == 12
                and screen.query_one(ConsolePane).lines
                and screen.query("SystemPane MetricChart")
                and all(c.draws for c in screen.query("MetricChart"))
                and all(w.is_finished for w in app.workers)
            ),
        )
        app.clear_notifications()  # toasts time out: not in the picture
        await still(pilot)

    assert snap_compare(FlightlogApp(Path("samples")), terminal_size=SIZES[size], run_before=ready)


# -- a real terminal --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_workspace_in_a_real_terminal_with_tmux(samples: Path) -> None:
    with tui_in_tmux(samples) as term:
        term.wait_for("graceful-ocean-12")
        time.sleep(1.0)
        term.keys("/", "state:failed", "Enter")
        term.wait_for("1 run · 1 failed")
        term.keys("Enter")
        term.wait_for("celestial-delta-6 (")  # the overview
        term.keys("7")  # the console pane, under the charts
        out = term.wait_for("filter the output")
        assert "celestial-delta-6 (" in out  # the overview is still there, beside it
        term.keys("f", "nan")
        out = term.wait_for("loss is nan, giving up")
        assert "epoch  1/12" not in out  # filtered away
        term.keys("Escape", "5", "6")  # runs and system panes too: 80x24 cannot hold them all
        out = term.wait_for("too small for every pane")
        for line in out.splitlines():
            assert len(line) <= 80
        # Escape, then q once the runs are back: a loaded app that reads both at once takes
        # them for one alt+q, as a terminal sends that
        term.keys("Escape")
        term.wait_for(lambda out: "too small" not in out and "1 run · 1 failed" in out, "runs")
        term.keys("q")
        assert term.wait_closed(), "q did not quit"


async def test_a_remembered_x_metric_the_run_lacks_falls_back_to_step(
    store: Path, tmp_path: Path
) -> None:
    path = layout_file(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": {"x_axis": "metric:tokens"}}))  # from another project
    run = flightlog.init(project="p", name="no-tokens")
    for i in range(20):
        run.log({"loss": 1 / (i + 1)})
    run.finish(quiet=True)
    app = FlightlogApp(store)
    notices = record_notices(app)
    async with app.run_test(size=BIG) as pilot:
        screen = await open_run(app, pilot)
        await settle(pilot, lambda: screen.x_axis == "step" and charts_drawn(app))
        assert any("this run has no tokens: x axis by step" in n for n in notices)
        await settle(pilot, lambda: screen.detail.curves["loss"]["x"][-1] == 19)


async def test_help_lists_the_workspace_keys(samples: Path) -> None:

    app = FlightlogApp(samples)
    async with app.run_test(size=BIG) as pilot:
        await open_run(app, pilot)
        await pilot.press("question_mark")
        await settle(pilot, lambda: app.screen.query("HelpScreen Static"))
        text = help_text(app)
        run = text[: text.index("compare")]
        for key, what in (
            ("5", "runs list"),
            ("6", "system metrics"),
            ("7", "console output"),
            ("f", "filter the console"),
            ("g", "1, 2 or 3 columns"),
            ("G", "rows"),
            ("l", "log scale"),
            ("m", "smoothing"),
            ("tab", "next pane"),
            ("shift+tab", "previous pane"),
        ):
            assert any(line.split()[:1] == [key] and what in line for line in run), key
        assert any(line.startswith("runs pane") for line in text)
        media = text[next(i for i, line in enumerate(text) if line.startswith("media pane")) :]
        assert any(line.split()[:1] == ["v"] and "system viewer" in line for line in media)
        assert any(line.startswith("compare media pane") for line in text)
        assert any(line.split()[:1] == ["p"] and "pin" in line for line in text)
