"""The media pane: through Pilot, as an SVG snapshot, and in a real terminal (tmux)."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.media_pane import MediaPane
from flightlog.tui.media_screen import MediaScreen
from flightlog.tui.run_screen import RunScreen

from .terminal import tui_in_tmux
from .test_tui import settle


def gradient(step: int) -> np.ndarray:
    """A 16×24 image that differs per step (its red rises with the step)."""
    img = np.zeros((16, 24, 3), np.uint8)
    img[:, :, 0] = 80 * step
    img[:, :, 1] = np.linspace(0, 255, 24, dtype=np.uint8)
    img[:, :, 2] = np.linspace(0, 255, 16, dtype=np.uint8)[:, None]
    return img


def make_run(store: Path) -> str:
    run = flightlog.init(project="vision", id="media01", name="media-run")
    for step in range(3):
        run.log(
            {
                "samples": flightlog.Image(gradient(step), caption=f"epoch {step}"),
                "loss": 1 / (step + 1),
            }
        )
    table = flightlog.Table(columns=["id", "label", "score"])
    for i, (label, score) in enumerate([("cat", 0.9), ("dog\x1b[31m", 0.2), ("owl", 0.5)]):
        table.add_data(i, label, score)
    run.log({"preds": table, "clip": flightlog.Audio(np.zeros(800), sample_rate=8000)})
    run.finish()
    return "vision/media01"


class PaneApp(App[None]):
    """The pane alone: it needs nothing of the run screen."""

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key

    def compose(self) -> ComposeResult:
        yield MediaPane(self.root, self.run_key, id="media")

    def on_mount(self) -> None:
        self.query_one("#media-keys").focus()


def info(pane: MediaPane) -> str:
    return str(pane.query_one("#media-info").render())


@asynccontextmanager
async def loaded_pane(store: Path, run_key: str) -> AsyncIterator[tuple[Pilot, MediaPane]]:
    """The pane of `run_key` alone in a 100×30 app, once it has loaded."""
    app = PaneApp(store, run_key)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(MediaPane)
        await settle(pilot, lambda: pane.loaded)
        yield pilot, pane


async def test_the_run_screens_i_key_shows_the_runs_media(store: Path) -> None:
    make_run(store)
    app = FlightlogApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(
            pilot,
            lambda: (
                app.screen.query("RunsTable") and app.screen.query_one("RunsTable").row_count == 1
            ),
        )
        await pilot.press("enter")
        await settle(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
        )
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, MediaScreen))
        pane = app.screen.query_one(MediaPane)
        await settle(pilot, lambda: pane.loaded and "clip ·" in info(pane))
        keys = pane.query_one("#media-keys", OptionList)
        assert [str(keys.get_option_at_index(i).prompt) for i in range(keys.option_count)] == [
            "clip  audio ×1",
            "preds  table ×1",
            "samples  image ×3",
        ]
        # the first key is audio: listed with its metadata
        assert "clip · step 3 (1 of 1) · audio · 0.10 s at 8000 Hz · wav" in info(pane)
        await pilot.press("down", "down")
        await settle(
            pilot,
            lambda: (
                "samples · step 2 (3 of 3)" in info(pane) and pane.query("#media-body Horizontal")
            ),
        )
        assert "16×24" not in info(pane) and "24×16" in info(pane) and "“epoch 2”" in info(pane)
        await pilot.press("comma", "comma", "comma")
        await settle(pilot, lambda: "samples · step 0 (1 of 3)" in info(pane))
        assert "“epoch 0”" in info(pane)
        await pilot.press("full_stop")
        await settle(pilot, lambda: "step 1 (2 of 3)" in info(pane))
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_a_table_is_a_sortable_data_table_with_escaped_cells(store: Path) -> None:
    async with loaded_pane(store, make_run(store)) as (pilot, pane):
        await pilot.press("down")
        await settle(pilot, lambda: pane.query("#media-table"))
        table = pane.query_one("#media-table", DataTable)
        cells = [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert cells == [["0", "cat", "0.9"], ["1", "dog\\x1b[31m", "0.2"], ["2", "owl", "0.5"]]
        column = list(table.columns)[2]
        table.post_message(DataTable.HeaderSelected(table, column, 2, table.columns[column].label))
        await settle(pilot, lambda: table.get_row_at(0)[2].plain == "0.2")
        assert [table.get_row_at(i)[1].plain for i in range(3)] == ["dog\\x1b[31m", "owl", "cat"]


async def test_show_step_shows_each_key_at_its_last_value_up_to_the_step(store: Path) -> None:
    async with loaded_pane(store, make_run(store)) as (pilot, pane):
        await pilot.press("down", "down")
        pane.show_step(1)
        await settle(pilot, lambda: "samples · step 1 (2 of 3)" in info(pane))
        pane.show_step(100)
        await settle(pilot, lambda: "samples · step 2 (3 of 3)" in info(pane))


async def test_v_opens_the_file_or_says_where_it_is(
    store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("flightlog.tui.media_pane.OPEN_DIR", tmp_path / "open")
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))  # no xdg-open: the path is told
    async with loaded_pane(store, make_run(store)) as (pilot, pane):
        await pilot.press("v")
        await settle(pilot, lambda: pilot.app._notifications)
        (note,) = list(pilot.app._notifications)
        exported = next((tmp_path / "open").glob("*.wav"))
        assert f"no system viewer here; the file is {exported}" in note.message
        assert exported.read_bytes() == pane.current().file().read_bytes()


async def test_a_run_without_media_says_how_to_log_some(store: Path) -> None:
    run = flightlog.init(project="p", id="plain01")
    run.log({"loss": 1.0})
    run.finish()
    async with loaded_pane(store, "p/plain01") as (_, pane):
        assert "this run logged no media" in info(pane)


def test_snapshot_media_pane(snap_compare, store: Path) -> None:
    run_key = make_run(store)

    async def ready(pilot) -> None:
        pane = pilot.app.query_one(MediaPane)
        await settle(pilot, lambda: pane.loaded)
        await pilot.press("down", "down", "comma")
        await settle(
            pilot, lambda: "step 1 (2 of 3)" in info(pane) and pane.query("#media-body Horizontal")
        )
        await pilot.pause(0.3)

    assert snap_compare(PaneApp(store, run_key), terminal_size=(80, 24), run_before=ready)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_images_in_a_real_terminal_with_tmux_use_half_blocks(store: Path) -> None:
    make_run(store)
    with tui_in_tmux(store, size=(100, 30)) as term:
        term.wait_for("media-run")
        time.sleep(1.0)
        term.keys("Enter", pause=0.7)
        term.wait_for("loss")
        term.keys("i", pause=0.7)
        term.wait_for("samples  image ×3")
        term.keys("Down", "Down", pause=0.7)
        out = term.wait_for(lambda out: "▀" in out or "▄" in out)  # an image in half blocks
        assert "samples · step 2 (3 of 3)" in out
        term.keys("q", "q", "q", pause=0.7)
