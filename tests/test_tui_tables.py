"""Tables filled whole: a frame drawn before the table's idle pass shows every cell whole
(the flaky `test_snapshot_run_screen`: metric names cut at the header's width)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable

import flightlog
from flightlog.tui.data import load_run
from flightlog.tui.run_overview import fill_metric_table
from flightlog.tui.runs_data import RunList
from flightlog.tui.runs_pane import RunsPane
from flightlog.tui.runs_table import build_table

from .tui_helpers import settle


class TableApp(App[None]):
    """The metric table as the run screen holds it: a fixed height (a table of auto height
    grows with its rows, and that resize hid the stale cells)."""

    CSS = "DataTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield DataTable(id="metrics", cursor_type="row")


def drawn(table: DataTable) -> list[str]:
    """The table's lines as a frame draws them now."""
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_metric_names_are_whole_in_a_frame_drawn_before_the_idle_pass(
    store: Path,
) -> None:
    run = flightlog.init(project="p", name="wide")
    for i in range(161):
        run.log({"grad_norm": 0.5086 + i, "train/loss": 1 / (i + 1), "val/acc": i / 161})
    run.finish(quiet=True)
    stats = load_run(store, f"p/{run.id}").metrics
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(DataTable)
        fill_metric_table(table, [], narrow=True)  # as the run screen mounts: no run read yet
        await pilot.pause()
        fill_metric_table(table, stats, narrow=True)  # the run arrives
        drawn(table)  # a frame drawn before the table measured its new rows (a loaded machine)
        await settle(pilot, lambda: not table._require_update_dimensions)
        await pilot.pause()
        lines = drawn(table)
        for name in ("grad_norm", "train/loss", "val/acc", "161"):
            assert any(name in line for line in lines), (name, lines)


class PaneApp(App[None]):
    CSS = "RunsPane { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield RunsPane(["p/a"], id="runs")


async def test_runs_pane_names_are_whole_in_a_frame_drawn_before_the_idle_pass() -> None:
    runs = [
        {"run_key": f"p/{c}", "state": "finished", "name": f"graceful-ocean-{c}", "project": "p"}
        for c in "abc"
    ]
    app = PaneApp()
    async with app.run_test(size=(100, 12)) as pilot:
        pane = app.query_one(RunsPane)
        await pilot.pause()
        pane.show_runs(runs)
        drawn(pane)  # a frame drawn before the pane measured its rows (a loaded machine)
        await settle(pilot, lambda: not pane._require_update_dimensions)
        await pilot.pause()
        lines = drawn(pane)
        for c in "abc":
            assert any(f"graceful-ocean-{c}" in line for line in lines), lines
        pane.focus()
        await pilot.press("down", "space")  # a mark set in place shows in its column
        await settle(pilot, lambda: any("•" in line for line in drawn(pane)))


class RunsApp(App[None]):
    CSS = "RunsTable { height: 1fr; }"

    def compose(self) -> ComposeResult:
        from flightlog.tui.runs_table import RunsTable

        yield RunsTable(id="runs")


async def test_a_refresh_repaints_the_changed_rows_only(monkeypatch) -> None:
    """A refresh whose data changed in one row (a training run's steps) has the screen
    repaint that row's line, and none when the row is out of view: repainting every visible
    line at each refresh was most of a live refresh with runs on screen."""
    import pyarrow as pa

    from flightlog.tui.runs_table import RunsTable

    def data(steps: dict[int, str]) -> pa.Table:
        names = [f"run-{i}" for i in range(100)]
        cells = [steps.get(i, "50") for i in range(100)]
        return pa.table({"name": pa.array(names), "steps": pa.array(cells)})

    painted: list[int] = []
    real = RunsTable.render_line
    monkeypatch.setattr(RunsTable, "render_line", lambda t, y: painted.append(y) or real(t, y))
    app = RunsApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RunsTable)
        table.show(data({}), 0)
        await settle(pilot, lambda: "run-0" in drawn(table)[1])
        await pilot.pause()
        painted.clear()
        table.show(data({80: "51"}), 0)  # out of view
        await pilot.pause()
        await pilot.pause()
        assert painted == []
        table.show(data({80: "51", 2: "52"}), 0)  # the third row: line 3 (under the header)
        await pilot.pause()
        await pilot.pause()
        assert painted == [3]
        assert "52" in drawn(table)[3] and "52" not in drawn(table)[4]
        table.show(data({80: "51", 2: "5200"}), 0)  # a wider cell: columns move
        await settle(pilot, lambda: "5200" in drawn(table)[3])
        await pilot.pause()
        painted.clear()
        table.show(data({80: "51", 2: "52"}), 0)  # the column's widest cell narrows
        await pilot.pause()
        await pilot.pause()
        assert painted == [3]
        assert drawn(table)[3].split() == ["run-2", "52"]


def test_a_metric_that_changes_type_is_printed_anew() -> None:
    """A run's cells are kept by what they show; a summary value of 1, then True (equal as
    keys, printed "1" and "True"), kept the first one's cell."""
    row = {
        "run_key": "p/a", "state": "running", "warnings": None, "name": "a", "id": "a",
        "entity": None, "project": "p", "group": None, "tags": [], "steps": 1,
        "created_at": 1.0, "duration": 1.0, "sync": None,
    }  # fmt: skip

    def shown(value: object) -> str:
        table = build_table(RunList([row], ["m"], {"p/a": {"m": value}}), [row], set())
        return table.column("m")[0].as_py()

    assert [shown(1), shown(True), shown(1.0)] == ["1", "True", "1"]
