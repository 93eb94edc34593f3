"""The terminal UI, driven by Textual's Pilot on real stores (and once in a real tmux)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from flightlog.tui import FlightlogApp
from flightlog.tui.compare_screen import CompareScreen
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

from .conftest import settled, spawn
from .terminal import tui_in_tmux
from .tui_helpers import (
    SIZE,
    SIZES,
    charts_drawn,
    column,
    help_text,
    names,
    rows,
    settle,
    still,
    type_text,
    wait_for_runs_dir,
)


async def test_runs_screen_lists_sample_runs(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        states = [r[1] for r in rows(app)]
        assert states.count("✗") == 1 and states.count("☠") == 1
        status = str(app.screen.query_one("#status").render())
        assert "12 runs" in status and "1 crashed" in status and "1 failed" in status
        assert "val/acc" in app.screen.query_one(RunsTable).backend.columns  # define_metric key


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("state:crashed", 1),
        ("-tag:sgd", 6),
        ("project:digits-mlp tag:baseline", 2),
        ("summary.val/acc>=0.98", 5),
        ("adam config.lr < 0.001", 2),
        ("moss", 1),
    ],
)
async def test_filter_bar(samples: Path, typed: str, expected: int) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("slash")
        await type_text(pilot, typed)
        await pilot.pause(0.5)
        assert len(rows(app)) == 12  # nothing half-typed is applied
        await pilot.press("enter")
        await settle(pilot, lambda: len(rows(app)) == expected)
        assert not app.screen.query_one("#filter-error").display
        assert app.screen.query_one(RunsTable).has_focus  # enter hands the keys back


async def test_bad_filter_shows_the_error_inline_and_keeps_the_rows(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("slash")
        await type_text(pilot, "state:crashed")
        await pilot.press("enter")
        await settle(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("slash")
        await type_text(pilot, " andd tag:adam")
        await pilot.press("enter")
        error = app.screen.query_one("#filter-error")
        await settle(pilot, lambda: error.display)
        shown = str(error.render()).splitlines()
        assert "'andd' is not a keyword: did you mean 'and'?" in shown[0]
        assert shown[1:] == ["  state:crashed andd tag:adam", "                ^"]  # under andd
        await pilot.pause(0.5)
        assert len(rows(app)) == 1  # the last applied filter's rows stay
        assert app.screen.query_one("#filter").has_focus  # to fix it
        await pilot.press("escape")  # give up: the bar shows the filter in force again
        assert app.screen.query_one("#filter").value == "state:crashed"
        assert not error.display and len(rows(app)) == 1
        await pilot.press("slash")
        await type_text(pilot, " tag:adam")  # typing again goes on at the end of the filter
        assert app.screen.query_one("#filter").value == "state:crashed tag:adam"


async def test_sort_by_the_cursor_column_both_ways(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        table = app.screen.query_one(RunsTable)
        table.move_cursor(column=2)  # name
        await pilot.press("s")
        assert names(app) == sorted(names(app))
        await pilot.press("s")
        assert names(app) == sorted(names(app), reverse=True)
        table.move_cursor(column=list(table.backend.columns).index("steps"))
        await pilot.press("s")
        assert column(app, "steps")[0] == "3"  # the failed run's 3 steps first


async def test_a_store_larger_than_a_page_is_listed_a_page_at_a_time(
    samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index sorts and pages (as a server does): the first page of a big store holds
    its first runs in the order asked for, and the last row brings the next page."""
    from flightlog.store.catalog import select_runs
    from flightlog.store.index import Index
    from flightlog.tui import runs_data as data

    monkeypatch.setattr(data, "PAGE", 5)  # as 500 of 10,000 runs
    with Index(samples) as idx:
        every = sorted(r["name"] for r in select_runs(idx))
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 5)
        assert "first 5 of 12 runs" in str(app.screen.query_one("#status").render())
        table = app.screen.query_one(RunsTable)
        table.move_cursor(column=2)  # name
        await pilot.press("s")
        await settle(pilot, lambda: names(app) == every[:5])
        await pilot.press("s")
        await settle(pilot, lambda: names(app) == every[::-1][:5])
        await pilot.press("end")
        await settle(pilot, lambda: names(app) == every[::-1][:10])


def hold_stat_pass(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Hold the runs screen's stat pass (catch_up.scan_store) until the returned event is
    set: what the screen shows before it has looked at the files."""
    from flightlog.store import catch_up

    looked = threading.Event()
    real_scan = catch_up.scan_store

    def held_scan(*args, **kwargs):
        assert looked.wait(120), "the test never released the stat pass"
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(catch_up, "scan_store", held_scan)
    return looked


def _add_run(store: Path, run_id: str, name: str) -> None:
    """A copy of a sample run under a new id and name: a run that appeared since."""
    import json

    project = store / "runs" / "digits-mlp"
    src = sorted(p for p in project.iterdir() if not p.name.startswith("."))[0]
    dst = project / run_id
    shutil.copytree(src, dst)
    meta = json.loads((dst / "run.json").read_text())
    (dst / "run.json").write_text(json.dumps({**meta, "id": run_id, "name": name}))


async def test_the_last_listing_shows_at_once_and_the_look_at_the_files_follows(
    samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big store's runs screen paints what its index saw last before the stat pass of
    the catch-up (seconds at 10,000 runs on a cold disk) ends; a run added since appears
    when it does. The stat pass is held here until the first page is checked."""
    from flightlog.store.catalog import select_runs
    from flightlog.store.index import Index

    with Index(samples) as idx:
        before = len(select_runs(idx))
    _add_run(samples, "added01", "added-since")
    looked = hold_stat_pass(monkeypatch)
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == before)
        status = lambda: str(app.screen.query_one("#status").render())  # noqa: E731
        assert "looking for changes" in status()
        assert "added-since" not in names(app)
        looked.set()
        await settle(pilot, lambda: "added-since" in names(app))
        await settle(pilot, lambda: "looking for changes" not in status())
        assert len(rows(app)) == before + 1


async def test_a_first_paint_shows_a_duration_not_known_yet_as_not_known(
    samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that never ended (the sample store's crashed one) lasts until its last row,
    which only its segments tell: the first paint of an index whose first build left it
    partial shows its duration as not known (`…`, as its steps), not as no duration."""
    from flightlog.store import catch_up
    from flightlog.store.index import Index

    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # as a first build of 10,000 runs
    Index(samples, lazy=True).close()  # a listing's first build: every run partial
    looked = hold_stat_pass(monkeypatch)
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        try:
            await settle(pilot, lambda: "wild-sea-10" in names(app))
            duration = lambda: dict(zip(names(app), column(app, "duration"), strict=True))  # noqa: E731
            steps = dict(zip(names(app), column(app, "steps"), strict=True))
            assert (steps["wild-sea-10"], duration()["wild-sea-10"]) == ("…", "…")
        finally:
            looked.set()
        await settle(pilot, lambda: duration()["wild-sea-10"] not in ("…", ""))


async def test_a_first_build_lists_at_once_and_describes_the_rest_in_the_background(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose index was never built: the first page shows with its runs' steps as
    a full description gives them, and the segments of the runs not shown are described
    in the background until the index holds every run whole."""
    from flightlog.store import catch_up
    from flightlog.store.catalog import select_runs
    from flightlog.store.index import Index
    from flightlog.tui import runs_data as data

    whole_copy = tmp_path / "whole"
    shutil.copytree(samples, whole_copy)
    with Index(whole_copy) as idx:  # every run described in full, as before
        whole = {r["name"]: (r["steps"], r["values"], r["last_time"]) for r in select_runs(idx)}
    monkeypatch.setattr(data, "PAGE", 5)  # as 500 of 10,000 runs
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # as a first build of 10,000 runs
    monkeypatch.setattr(data, "BATCH", 3)
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 5)
        shown = dict(zip(names(app), column(app, "steps"), strict=True))
        assert shown == {n: str(whole[n][0]) for n in shown}
        await settle(pilot, lambda: _partial(samples) == 0)
    with Index(samples) as idx:
        now = {r["name"]: (r["steps"], r["values"], r["last_time"]) for r in select_runs(idx)}
    assert now == whole


def _partial(store: Path) -> int:
    from flightlog.store.index import Index

    with Index(store, fresh=False, lazy=True) as idx:
        return idx.partial


async def test_mark_and_compare(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("c")  # nothing marked: a hint, no screen
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("space", "space")
        assert [r[0] for r in rows(app)][:3] == ["•", "•", " "]
        await pilot.press("c")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, CompareScreen) and len(app.screen.query("MetricChart")) > 0
            ),
        )
        diff = app.screen.query_one("#config-diff")
        assert {str(diff.get_row_at(i)[0]) for i in range(diff.row_count)} == {"lr"}
        summary = app.screen.query_one("#summary")
        keys = [str(summary.get_row_at(i)[0]) for i in range(summary.row_count)]
        assert "val/loss" in keys
        best = summary.get_row_at(keys.index("val/loss"))
        assert sum("green" in str(c.style) for c in best[1:]) == 1  # the better run only
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_group_by_project_then_group_with_folding(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("g")  # by project: one header + 12 runs
        assert rows(app)[0][0] == "▼" and rows(app)[0][2] == "digits-mlp (12)"
        await pilot.press("g")  # by group: two headers
        headers = [r[2] for r in rows(app) if r[0] in ("▼", "▶")]
        assert headers == ["adam-lr-sweep (6)", "sgd-lr-sweep (6)"]
        app.screen.query_one(RunsTable).move_cursor(row=0)
        await pilot.press("space")  # fold the first group
        assert len(rows(app)) == 8 and rows(app)[0][0] == "▶"
        await pilot.press("enter")  # unfold
        assert len(rows(app)) == 14
        assert "grouped by group" in str(app.screen.query_one("#status").render())
        await pilot.press("g")
        assert len(rows(app)) == 12


async def test_pick_summary_columns(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("m")
        bar = app.screen.query_one("#columns")
        assert bar.has_focus and "val/acc" in bar.value
        hint = str(app.screen.query_one("#columns-hint").render())
        assert hint.startswith("available: ") and "grad_norm" in hint and "train/loss" in hint
        bar.value = ""
        await type_text(pilot, "train/loss grad_norm")
        await pilot.press("enter")
        table = app.screen.query_one(RunsTable)
        await settle(
            pilot, lambda: list(table.backend.columns)[2:5] == ["name", "train/loss", "grad_norm"]
        )


async def test_command_palette_lists_the_screen_actions(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Filter (slash)", "Mark ↓ (space)", "Compare (c)", "Group (g)", "Columns (m)"):
            assert t in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Group (g)")
        await command.callback()
        assert rows(app)[0][0] == "▼"


async def test_open_a_run_charts_and_keys(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press(*["down"] * 9, "enter")  # newest first: the third run made
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and app.screen.detail is not None
                and app.screen.query("MetricChart")
            ),
        )
        screen = app.screen
        assert "crisp-puddle-3" in str(screen.query_one("#overview").render())
        metrics = screen.query_one("#metrics")
        assert metrics.row_count == 6
        assert len(screen.query("MetricChart")) == 4
        for key in ("x", "l", "m", "x"):
            await pilot.press(key)
        await pilot.press("slash")
        await type_text(pilot, "^val/")
        await settle(
            pilot, lambda: {c.key for c in screen.query("MetricChart")} == {"val/acc", "val/loss"}
        )
        assert "lr = 0.1" in str(screen.query_one("#config").root.children[1].label)
        await pilot.press("escape")  # leave the regex input
        await pilot.press("escape")
        assert not isinstance(app.screen, RunScreen)


async def test_x_axis_by_another_metric_and_summary_only_values(store: Path) -> None:
    import flightlog

    run = flightlog.init(project="p", name="tok")
    for i in range(50):
        run.log({"loss": 1 / (i + 1), "tokens": 512.0 * i})
    run.summary["best_checkpoint"] = "ckpt-40"
    run.finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and app.screen.detail is not None
                and app.screen.query("MetricChart")
            ),
        )
        screen = app.screen
        assert "best_checkpoint=ckpt-40" in str(screen.query_one("#overview").render())
        keys = [m["key"] for m in screen.detail.metrics]
        screen.query_one("#metrics").move_cursor(row=keys.index("tokens"))
        await pilot.press("X")
        await settle(
            pilot,
            lambda: screen.x_axis == "metric:tokens" and not screen.query_one("#charts").loading,
        )
        loss = screen.detail.curves["loss"]
        assert loss["x"][-1] == 512.0 * 49  # plotted against tokens, not steps


async def test_system_and_console_panes(store: Path) -> None:
    from flightlog.tui.context_screens import ConsoleScreen, SystemScreen

    from .conftest import python_script

    res = python_script("""
        import flightlog, time
        run = flightlog.init(project="ctx", name="ctx-run", settings={"stats_interval": 0.1})
        for i in range(20):
            run.log({"loss": 1 / (i + 1)})
            print(f"epoch {i} done")
            time.sleep(0.05)
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 1)
        await pilot.press("enter")
        await settle(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
        )
        await pilot.press("S")
        await settle(
            pilot, lambda: isinstance(app.screen, SystemScreen) and app.screen.query("MetricChart")
        )
        keys = {c.key for c in app.screen.query("MetricChart")}
        assert {"system/cpu_percent", "system/proc_rss_mb"} <= keys
        await pilot.press("escape")
        await pilot.press("o")
        await settle(
            pilot,
            lambda: isinstance(app.screen, ConsoleScreen) and len(app.screen.lines) >= 20,
        )
        lines = app.screen.lines
        assert "epoch 0 done" in lines and "epoch 19 done" in lines


@pytest.mark.slow
async def test_live_update_while_a_child_process_logs(store: Path) -> None:
    proc = spawn("""
        import flightlog, time
        run = flightlog.init(project="live", name="trainer")
        for i in range(600):
            run.log({"loss": 1 / (i + 1)})
            time.sleep(0.01)
        run.finish()
    """)
    try:
        wait_for_runs_dir(store)
        app = FlightlogApp(store)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: rows(app) and rows(app)[0][1] == "●")
            first = int(column(app, "steps")[0])
            await settle(pilot, lambda: int(column(app, "steps")[0]) > first)
            await settle(pilot, lambda: rows(app)[0][1] == "✓")
            assert column(app, "steps")[0] == "600"
    finally:
        proc.kill()
        proc.wait()


async def test_cursor_stays_on_its_run_when_rows_change(store: Path) -> None:
    import flightlog

    for name in ("b-run", "c-run"):
        flightlog.init(project="p", name=name, reinit=True).finish(quiet=True)
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        table = app.screen.query_one(RunsTable)
        table.move_cursor(column=2)
        await pilot.press("s")  # by name
        await pilot.press("down")
        assert app.screen.current_key().endswith(column(app, "id")[1])
        flightlog.init(project="p", name="a-run", reinit=True).finish(quiet=True)
        settled()  # the writer thread seals after finish()
        await settle(pilot, lambda: len(rows(app)) == 3)
        assert rows(app)[table.cursor_row][2] == "c-run"


async def test_corrupt_segment_marks_the_run(samples: Path) -> None:
    seg = next((samples / "runs").rglob("*.parquet"))
    seg.write_bytes(b"garbage")
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        assert sum(r[1].endswith("!") for r in rows(app)) == 1


async def test_empty_store_shows_how_to_log_a_first_run(tmp_path: Path) -> None:
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    app = FlightlogApp(tmp_path / "empty")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.screen.query_one("#empty").display)
        assert "flightlog.init(" in str(app.screen.query_one("#empty").render())


async def test_help_lists_flightlogs_keys_by_screen_this_one_first(samples: Path) -> None:
    from flightlog.tui.help_screen import HelpScreen

    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = help_text(app)
        assert text[0] == "runs (this screen)"
        assert text[1].split()[0] == "/" and "filter" in text[1]
        headings = [line for line in text if line and not line.startswith(" ") and "  " not in line]
        assert headings[:3] == ["runs (this screen)", "runs: the filter bar (/)", "run"]
        assert "everywhere" in headings and "compare" in headings
        assert not any("Cursor up" in line or "Page down" in line for line in text)  # the table's
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert help_text(app)[0] == "run (this screen)"
        await pilot.press("q", "q", "q")  # close help, leave the run, quit
    assert app.return_code == 0


# -- snapshots of the main screens on the committed sample runs ----------------------------


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_runs_screen(snap_compare, sample_cwd: Path, size: str) -> None:
    """Metrics right after the name, so they are on screen at 80 columns."""

    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(rows(pilot.app)) == 12)

    assert snap_compare(FlightlogApp(sample_cwd), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_run_screen(snap_compare, sample_cwd: Path, size: str) -> None:
    """Full metric names and their counts (161 for the crashed run), at 80 columns too."""

    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(rows(pilot.app)) == 12)
        pilot.app.screen.query_one(RunsTable).move_cursor(row=names(pilot.app).index("wild-sea-10"))
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, RunScreen)
                and pilot.app.screen.detail is not None
                and len(pilot.app.screen.query("MetricChart")) == 4
                and all(c.draws for c in pilot.app.screen.query("MetricChart"))
                and all(w.is_finished for w in pilot.app.workers)  # every read delivered
                # laid out for the terminal's width (the layout changes below 110 columns)
                and pilot.app.screen.has_class("narrow") == (pilot.app.size.width < 110)
            ),
        )
        await still(pilot)  # the metric table's columns take their widths in later frames

    assert snap_compare(FlightlogApp(sample_cwd), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_help(snap_compare, sample_cwd: Path, size: str) -> None:
    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(rows(pilot.app)) == 12)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(FlightlogApp(sample_cwd), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_filter_error(snap_compare, sample_cwd: Path, size: str) -> None:
    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(rows(pilot.app)) == 12)
        await pilot.press("slash")
        await type_text(pilot, "summary.val/loss < 0.3 andd tag:adam")
        await pilot.press("enter")
        await settle(pilot, lambda: pilot.app.screen.query_one("#filter-error").display)
        # the bar scrolls with its cursor, whose settling is timing-dependent at 80 columns:
        # show the expression from its start
        await pilot.press("home")
        # the focused bar's cursor blinks every 0.5 s: under load the capture came on either
        # phase (the 80x24 snapshot failed now and then). Shown steadily, it is always there.
        pilot.app.screen.query_one("#filter").cursor_blink = False
        await pilot.pause()

    assert snap_compare(FlightlogApp(sample_cwd), terminal_size=SIZES[size], run_before=ready)


def test_snapshot_compare_screen(snap_compare, sample_cwd: Path) -> None:
    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(rows(pilot.app)) == 12)
        await pilot.press("space", "space", "c")
        await settle(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, CompareScreen)
                and len(pilot.app.screen.query("MetricChart")) == 6
                and charts_drawn(pilot.app)
            ),
        )
        await still(pilot)  # the tables' columns and the charts take their widths in later frames

    assert snap_compare(FlightlogApp(sample_cwd), terminal_size=SIZE, run_before=ready)


# -- a real terminal --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_with_tmux(samples: Path) -> None:
    with tui_in_tmux(samples) as term:
        out = term.wait_for("graceful-ocean-12")
        assert "icy-dune-1" in out and "☠" in out
        header = next(line for line in out.splitlines() if "name" in line and "state" in line)
        assert "val/acc" in header and "val/loss" in header  # metrics in view at 80 columns
        time.sleep(1.0)  # as a person would: look first, then type
        term.keys("/", "state:failed", "Enter")
        out = term.wait_for("1 run · 1 failed")
        assert "celestial-delta-6" in out and "icy-dune-1" not in out
        term.keys("Enter", "o", pause=1.0)  # the failed run's console output
        term.wait_for("loss is nan, giving up")
        term.keys("Escape", "Escape")
        term.wait_for("1 run · 1 failed")
        term.keys("q")
        assert term.wait_closed(), "q did not quit"
