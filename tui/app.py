"""The flightlog terminal UI: browse, inspect and compare runs, live while they train.

    flightlog tui [ROOT]        (or plain `flightlog` in a directory holding a store)

Screens: runs (runs_screen.py), run (run_screen.py), compare (compare_screen.py). Everything
that reads the store runs in thread workers (tui/data.py); widgets are only touched on the
app's thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .data import Source
from .remote_source import RemoteSource
from .runs_screen import RunsScreen


class FlightlogApp(App[None]):
    """flightlog's terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "flightlog"
    BINDINGS: ClassVar = [Binding("question_mark", "help", "Keys")]

    def __init__(self, root: Path | str | Source) -> None:
        super().__init__()
        self.root = root if isinstance(root, Source) else Path(root)

    def on_mount(self) -> None:
        self.push_screen(RunsScreen(self.root))
        if isinstance(self.root, RemoteSource):  # the connection's health, every second
            self.set_interval(1.0, lambda: setattr(self, "sub_title", self.root.status()))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette lists every action of the current screen, with its key."""
        yield from super().get_system_commands(screen)
        for b in getattr(screen, "BINDINGS", []):
            if isinstance(b, Binding) and b.description and not b.action.startswith("app."):
                yield SystemCommand(
                    f"{b.description} ({b.key})",
                    b.tooltip or f"{b.action} on this screen",
                    partial(screen.run_action, b.action),
                )

    def action_help(self) -> None:
        from .help_screen import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(type(self.screen)))


def run(root: Path | str | Source) -> int:
    """Run the UI until it quits; its exit code (1 when it crashed: Textual has printed the
    traceback by then, and a script or `ssh host flightlog tui` must see the failure)."""
    # the terminal is asked what it can draw when image_support is imported: now, while the
    # terminal is still ours. Imported with the first run screen, Textual was already
    # reading the keys, and the terminal's answer (ESC [ ? 62 ; 4 c) arrived as keystrokes
    from . import image_support  # noqa: F401

    app = FlightlogApp(root)
    app.run()
    return app.return_code or 0
