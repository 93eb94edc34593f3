"""The compare screen's media pane (8): one media key of every compared run side by side,
through Pilot, as SVG snapshots and in a real terminal (tmux)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, OptionList

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.compare_media import CompareMedia
from flightlog.tui.compare_screen import CompareScreen
from flightlog.tui.media_body import MediaBody

from .terminal import tui_in_tmux
from .test_media_tui import gradient
from .test_tui import settle, still

RUNS = ["vision/a01", "vision/b01"]


def make_runs(store: Path) -> list[str]:
    """Run a logs `samples` at steps 0-2, run b at steps 0 and 2 (brighter, in green), both
    a `preds` table at step 3 (b's with a control character); only run a logs `depth`."""
    for run_id, steps in (("a01", [0, 1, 2]), ("b01", [0, 2])):
        run = flightlog.init(project="vision", id=run_id, name=f"run-{run_id}")
        for step in range(3):
            row: dict = {"loss": 1 / (step + 1)}
            if step in steps:
                img = gradient(step)
                if run_id == "b01":
                    img[:, :, 1] = 200
                row["samples"] = flightlog.Image(img, caption=f"{run_id[0]} epoch {step}")
            if run_id == "a01":
                row["depth"] = flightlog.Image(gradient(0))
            run.log(row, step=step)
        label = "dog\x1b[31m" if run_id == "b01" else "dog"
        run.log({"preds": flightlog.Table(columns=["label"], data=[[label]])}, step=3)
        run.finish()
    return RUNS


class PaneApp(App[None]):
    """The pane alone, as the compare screen holds it."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        yield CompareMedia(self.root, RUNS, id="media")

    def on_mount(self) -> None:
        self.query_one("#compare-media-keys").focus()


def run_info(pane: CompareMedia, i: int) -> str:
    return str(pane.query_one(f"#run-info-{i}").render())


def red_of(pane: CompareMedia, i: int) -> tuple[int, int]:
    """The (red, green) of the top-left pixel of the image drawn in run i's column."""
    (box,) = pane.query_one(f"#run-body-{i}", MediaBody).query(Horizontal)
    (widget,) = box.children
    return widget.image.convert("RGB").getpixel((0, 0))[:2]


def drawn(pane: CompareMedia, i: int, pixel: tuple[int, int]) -> bool:
    try:
        return red_of(pane, i) == pixel
    except ValueError:  # not drawn yet
        return False


async def open_compare(app: FlightlogApp, pilot) -> CompareMedia:
    app.push_screen(CompareScreen(app.root, RUNS))
    await settle(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.names)
    await pilot.press("8")
    pane = app.screen.query_one(CompareMedia)
    await settle(pilot, lambda: pane.display and pane.loaded)
    return pane


async def test_key_8_shows_each_runs_image_at_the_cursors_step(store: Path) -> None:
    make_runs(store)
    app = FlightlogApp(store)
    async with app.run_test(size=(160, 50)) as pilot:
        pane = await open_compare(app, pilot)
        keys = pane.query_one("#compare-media-keys", OptionList)
        assert [str(keys.get_option_at_index(i).prompt) for i in range(keys.option_count)] == [
            "depth  1 of 2 runs",
            "preds  2 of 2 runs",
            "samples  2 of 2 runs",
        ]
        keys.highlighted = 2
        await settle(pilot, lambda: drawn(pane, 0, (160, 0)) and drawn(pane, 1, (160, 200)))
        assert run_info(pane, 0).startswith("vision/a01 · step 2 · image · 24×16")
        assert run_info(pane, 0).endswith("“a epoch 2”")
        assert run_info(pane, 1).endswith("“b epoch 2”")
        # the charts' step cursor moves both columns: run b logged nothing at step 1
        app.screen.set_cursor(1.0)
        await settle(pilot, lambda: drawn(pane, 0, (80, 0)) and drawn(pane, 1, (0, 200)))
        assert "“a epoch 1”" in run_info(pane, 0) and "“b epoch 0”" in run_info(pane, 1)
        assert str(pane.query_one("#compare-media-info").render()) == (
            "samples · at step 1 (3 steps logged)"
        )
        # , and . step through the steps any run logged the key at
        keys.focus()
        await pilot.press("comma")
        await settle(pilot, lambda: drawn(pane, 0, (0, 0)) and "step 0" in run_info(pane, 1))
        await pilot.press("full_stop", "full_stop")
        await settle(pilot, lambda: drawn(pane, 0, (160, 0)) and drawn(pane, 1, (160, 200)))
        # a key one run did not log says so in that run's column
        keys.highlighted = 0
        await settle(pilot, lambda: "not logged" in run_info(pane, 1) and drawn(pane, 0, (0, 0)))
        assert run_info(pane, 1) == "vision/b01 · not logged"


async def test_tables_side_by_side_with_escaped_cells(store: Path) -> None:
    make_runs(store)
    app = PaneApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(CompareMedia)
        await settle(pilot, lambda: pane.loaded)
        await pilot.press("down")
        await settle(pilot, lambda: len(pane.query("#media-table")) == 2)
        cells = [
            [c.plain for c in t.get_row_at(0)]
            for t in pane.query("#media-table").results(DataTable)
        ]
        assert cells == [["dog"], ["dog\\x1b[31m"]]
        assert "\x1b" not in app.export_screenshot().split("<svg", 1)[1].replace("&#27;", "")


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
def test_snapshot_compare_media(snap_compare, store: Path, size) -> None:
    make_runs(store)

    async def ready(pilot) -> None:
        pane = pilot.app.query_one(CompareMedia)
        await settle(pilot, lambda: pane.loaded)
        await pilot.press("down", "down")
        pane.show_step(1)
        await settle(pilot, lambda: drawn(pane, 0, (80, 0)) and drawn(pane, 1, (0, 200)))
        await still(pilot)

    assert snap_compare(PaneApp(store), terminal_size=size, run_before=ready)


@pytest.mark.slow
def test_compare_media_in_a_real_terminal_uses_half_blocks(store: Path) -> None:
    make_runs(store)
    with tui_in_tmux(store, size=(160, 45)) as term:
        term.wait_for(lambda out: "run-a01" in out and "run-b01" in out, "the runs")
        term.keys("Space", "Space", "c")
        term.wait_for(lambda out: "config" in out, "the compare screen")
        term.keys("8")
        term.wait_for(lambda out: "depth  1 of 2 runs" in out, "the media keys")
        # focus: runs, summary, config, charts, then the key list; down to `samples`
        term.keys("Tab", "Tab", "Tab", "Tab", "Down", "Down")
        term.wait_for(lambda out: "vision/b01 · step 2 · image" in out, "the samples key")
        out = term.wait_for(lambda out: "▀" in out or "▄" in out, "images in half blocks")
        assert "vision/a01 · step 2 · image" in out and "vision/b01 · step 2 · image" in out
        term.keys("q", "q")
