"""A run's context panes: its system metrics (charts) and its console output (a log)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, RichLog, Static

from flightlog.store.text import safe

from .charts import MetricChart
from .data import Curves, load_system, read_console
from .workers import StoreScreen, deliver, store_work

REFRESH_SECONDS = 2.0


class SystemScreen(StoreScreen):
    """One chart per system metric (CPU, memory, disk, network, GPUs) against run time."""

    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"system metrics of {self.run_key} (x: seconds since the run started)",
            id="system-title",
        )
        yield VerticalScroll(id="system-charts")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.refresh_every(REFRESH_SECONDS, self.load, "default")

    @store_work("loading system metrics")
    def load(self) -> None:
        curves = load_system(self.root, self.run_key)
        deliver(self, self.show, curves)

    async def show(self, curves: Curves) -> None:
        box = self.query_one("#system-charts", VerticalScroll)
        if not curves:
            self.query_one("#system-title", Static).update(
                "no system metrics recorded for this run (FLIGHTLOG_STATS_INTERVAL=0?)"
            )
            return
        charts = {c.key: c for c in box.query(MetricChart)}
        if list(charts) != list(curves):
            await box.remove_children()
            await box.mount_all([MetricChart(k) for k in curves])
            charts = {c.key: c for c in box.query(MetricChart)}
        for key, series in curves.items():
            charts[key].draw({self.run_key: series}, {}, x_label="seconds")


class ConsoleScreen(StoreScreen):
    """The run's files/output.log, followed while it grows; long lines wrap at the width."""

    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key
        self.read_offset = 0
        self.told_empty = False
        self.pending = ""  # a line still being written (no newline yet)
        self.lines: list[str] = []  # every line shown, as text (for tests and copying)

    def compose(self) -> ComposeResult:
        yield Header()
        yield RichLog(id="console", wrap=True, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.refresh_every(REFRESH_SECONDS, self.load, "default")

    @store_work("reading the console output")
    def load(self) -> None:
        text, offset = read_console(self.root, self.run_key, self.read_offset)
        deliver(self, self.show, text, offset)

    def show(self, text: str, offset: int) -> None:
        log = self.query_one("#console", RichLog)
        if offset == 0 and not self.told_empty:  # said once, not on every refresh
            log.write(Text("(no console output recorded: FLIGHTLOG_CONSOLE=off, or none yet)"))
            self.told_empty = True
        if self.told_empty and text:
            log.clear()
            self.told_empty = False
        self.read_offset = offset
        self.pending += safe(text, newlines=True)  # the script's own escapes are shown, not run
        *complete, self.pending = self.pending.split("\n")
        if not text and self.pending:  # nothing came for a while: show the unfinished line
            complete, self.pending = [self.pending], ""
        for line in complete:
            log.write(Text(line))
            self.lines.append(line)
