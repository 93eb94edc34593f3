"""Found following the README as a newcomer: its media example logs a list of images
(`"samples": [flightlog.Image(x, caption=...) for ...]`); in the terminal UI's media
screen (`i`), `v` ("opens a file in the system viewer") on that key stops the whole UI
with KeyError: 'sha256' (tui/media_pane.py action_open -> store/media_ref.py export: a
list of images has no one file). The UI must never crash; it should open one of the
images, or say why it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import flightlog

from .test_media_tui import loaded_pane
from .tui_helpers import settle


async def test_v_on_a_list_of_images_does_not_stop_the_ui(
    store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("flightlog.tui.media_pane.OPEN_DIR", tmp_path / "open")
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))  # no xdg-open: the UI says where
    batch = np.random.default_rng(0).random((2, 8, 8, 3))
    run = flightlog.init(project="vision", id="media02")
    run.log({"samples": [flightlog.Image(x, caption=f"#{i}") for i, x in enumerate(batch)]})
    run.finish()
    async with loaded_pane(store, "vision/media02") as (pilot, pane):
        await pilot.press("v")
        await settle(pilot, lambda: pilot.app._notifications)
        assert pane.is_attached
        said = " ".join(str(n.message) for n in pilot.app._notifications)
        assert "2 images copied to" in said and "no system viewer here" in said, said
        assert len(list((tmp_path / "open").glob("*.png"))) == 2
