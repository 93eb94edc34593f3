"""The media screen: a run's MediaPane on a screen of its own (the run screen's `i` key)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header

from .footer import KeyFooter
from .media_pane import MediaPane
from .workers import StoreScreen


class MediaScreen(StoreScreen):
    """Images, tables, audio, video and HTML of one run."""

    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key

    def compose(self) -> ComposeResult:
        yield Header()
        yield MediaPane(self.root, self.run_key, id="media")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"media of {self.run_key}"
        self.query_one("#media-keys").focus()
