"""A run's context: its system metrics (charts) and its console output (a filterable log).

Each is a pane (`SystemPane`, `ConsolePane`) shown in the run screen's workspace (keys 6 and
7) and, full-screen, as its own screen (S and o). The screens holding them mix in
`ContextLoads`, whose store workers read the data and hand it to the panes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Header, Input, RichLog, Static

from flightlog.store.text import safe

from .charts import COLORS, MetricChart
from .data import Curves, load_system, read_console
from .footer import KeyFooter
from .workers import REFRESH_SECONDS, StoreScreen, deliver, store_work
from .workspace import leave

NO_SYSTEM = "no system metrics recorded for this run (FLIGHTLOG_STATS_INTERVAL=0?)"
NO_OUTPUT = "(no console output recorded: FLIGHTLOG_CONSOLE=off, or none yet)"


class SystemPane(Vertical):
    """One chart per system metric (CPU, memory, disk, network, GPUs) against run time: of
    one run (run screen), or of every compared run overlaid in the charts' colours, the
    reference run first (compare screen).

    System metrics are sampled by time, not by step: the screen's step cursor reaches them
    as the wall time of each run's nearest logged step (`show_times`). Each chart then marks
    the reference run's sample nearest that time, and its legend - in the chart's title, on
    its top border, in view even in a pane lower than the chart - reads each run's sample
    there."""

    DEFAULT_CSS = """
    SystemPane > #system-title { height: auto; padding: 0 1; color: $text-muted; }
    SystemPane > VerticalScroll { height: 1fr; }
    """

    def __init__(self, run_key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_keys = [run_key]  # the reference run first
        self.labels: dict[str, str] = {}
        self.curves: dict[str, Curves] = {}  # run key -> its system series
        self.at: dict[str, float | None] = {}  # run key -> the wall time of the step cursor

    @property
    def run_key(self) -> str:
        """The reference run: its samples place the charts' cursor."""
        return self.run_keys[0]

    def compose(self) -> ComposeResult:
        yield Static(self.heading(), id="system-title", markup=False)
        yield VerticalScroll(id="system-charts")

    def heading(self) -> str:
        if len(self.run_keys) == 1:
            return f"system metrics of {safe(self.run_key)} (x: seconds since the run started)"
        runs = ", ".join(safe(self.labels.get(k, k)) for k in self.run_keys)
        return f"system metrics of {runs} (x: seconds since each run started)"

    async def show(self, by_run: dict[str, Curves], labels: dict[str, str] | None = None) -> None:
        """Draw each run's series (`by_run`: the reference run first); the runs can change
        (the compare screen's drawn runs, or another pinned)."""
        box = self.query_one("#system-charts", VerticalScroll)
        if list(by_run) != self.run_keys:
            self.run_keys, self.curves = list(by_run), {}
            await box.remove_children()
        self.labels = labels or {}
        shown = any(by_run.values())
        self.query_one("#system-title", Static).update(self.heading() if shown else NO_SYSTEM)
        if not shown or by_run == self.curves:
            return  # a refresh of samples that did not change (finished runs): drawn already
        self.curves = by_run
        metrics = list(dict.fromkeys(k for curves in by_run.values() for k in curves))
        charts = {c.key: c for c in box.query(MetricChart)}
        if list(charts) != metrics:
            await box.remove_children()
            await box.mount_all([MetricChart(k) for k in metrics])
            charts = {c.key: c for c in box.query(MetricChart)}
        for key in metrics:
            series = {k: c[key] for k, c in by_run.items() if key in c}
            charts[key].draw(series, self.labels, x_label="seconds", order=self.run_keys)
        self.show_times(self.at)  # a draw clears the cursor

    def show_times(self, at: dict[str, float | None]) -> None:
        """The step cursor at wall time `at[run]` of each run (None or absent: off): each
        chart's cursor at the reference run's sample nearest its time, its legend each run's
        sample."""
        self.at = at
        for chart in self.query(MetricChart):
            samples = [
                nearest_sample(self.curves.get(k, {}).get(chart.key), at.get(k))
                for k in self.run_keys
            ]
            chart.move_cursor(samples[0][0] if samples[0] else None)
            chart.border_title = system_legend(chart.key, samples)


def nearest_sample(
    series: dict[str, list[Any]] | None, at: float | None
) -> tuple[float, float, float] | None:
    """(run time, wall time, value) of the sample with a value nearest wall time `at`."""
    if series is None or at is None:
        return None
    samples = [
        (x, t, v)
        for x, t, v in zip(series["x"], series["time"], series["last"], strict=True)
        if v is not None and t is not None
    ]
    return min(samples, key=lambda s: abs(s[1] - at), default=None)


def system_legend(key: str, samples: list[tuple[float, float, float] | None]) -> Text:
    """A system chart's title: its metric and, at the cursor, each run's sample (in the
    charts' colours when there are several): value and run time, and for one run the wall
    clock."""
    out = Text(safe(key))  # a stored key: never markup
    for i, sample in enumerate(samples):
        if sample is None:
            continue
        runtime, at, value = sample
        out.append(" · ")
        if len(samples) > 1:
            out.append("━ ", style=COLORS[i % len(COLORS)])
        out.append(f"{value:.6g}", style="bold")
        out.append(f" @ {runtime:.1f} s")
        if len(samples) == 1:
            out.append(f" · {time.strftime('%H:%M:%S', time.localtime(at))}")
    return out


class ConsolePane(Vertical):
    """The run's files/output.log, followed while it grows; long lines wrap at the width.
    Typing in its filter bar shows only the lines containing the text (any case). Every
    line is escaped: the script's own terminal codes are shown, never run."""

    DEFAULT_CSS = """
    ConsolePane > Input { height: 3; }
    ConsolePane > RichLog { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_offset = 0
        self.told_empty = False
        self.pending = ""  # a line still being written (no newline yet)
        self.lines: list[str] = []  # every line read, escaped (for tests and copying)
        self.needle = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter the output: type text (esc leaves)", id="console-filter")
        yield RichLog(id="console-log", wrap=True, markup=False, highlight=False)

    def on_resize(self) -> None:
        """Long lines wrap again at the new width: the log keeps following its end (else the
        newest lines sat below the pane after a layout change)."""
        log = self.query_one(RichLog)
        if log.auto_scroll:
            log.call_after_refresh(log.scroll_end, animate=False)

    def show(self, text: str, offset: int) -> None:
        log = self.query_one(RichLog)
        if offset == 0 and not self.told_empty:  # said once, not on every refresh
            log.write(Text(NO_OUTPUT))
            self.told_empty = True
        if self.told_empty and text:
            log.clear()
            self.told_empty = False
        self.read_offset = offset
        self.pending += safe(text, newlines=True)  # the script's own escapes are shown, not run
        *complete, self.pending = self.pending.split("\n")
        if not text and self.pending:  # nothing came for a while: show the unfinished line
            complete, self.pending = [self.pending], ""
        self.lines.extend(complete)
        for line in complete:
            if self.matches(line):
                log.write(Text(line))

    def matches(self, line: str) -> bool:
        return self.needle in line.lower()

    @on(Input.Changed, "#console-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.lower()
        log = self.query_one(RichLog)
        log.clear()
        shown = self.shown()
        for line in shown:
            log.write(Text(line))
        if self.needle and not shown:
            log.write(Text(f"(no line contains {safe(event.value)!r})", style="dim"))

    def shown(self) -> list[str]:
        """The lines on screen now, after the filter (what a test reads)."""
        return [line for line in self.lines if self.matches(line)]


class ContextLoads:
    """Mixed into a StoreScreen of run `run_key` holding a SystemPane and/or a ConsolePane:
    `load_context()` reads the data of those shown."""

    root: Path
    run_key: str
    CONTEXT_GROUPS = ("system", "console")  # the worker groups load_context starts

    def load_context(self) -> None:
        for pane in self.query(SystemPane):  # type: ignore[attr-defined]
            if pane.display:
                self.load_system(self.system_runs())
        for pane in self.query(ConsolePane):  # type: ignore[attr-defined]
            if pane.display:
                self.load_console(pane.read_offset)

    def follow_time(self, time_of: Callable[[str], float | None]) -> None:
        """The system panes' cursors to each run's wall time at the step cursor (`time_of`
        a run key; None: off)."""
        for pane in self.query(SystemPane):  # type: ignore[attr-defined]
            pane.show_times({k: time_of(k) for k in pane.run_keys})

    def system_runs(self) -> list[str]:
        """The runs the system pane shows, the reference first (the compare screen: every
        run drawn)."""
        return [self.run_key]

    def system_labels(self) -> dict[str, str]:
        """Run key -> its label in the system charts (the compare screen: the runs' names)."""
        return {}

    @store_work("loading system metrics", group="system")
    def load_system(self, run_keys: list[str]) -> None:
        by_run = {k: load_system(self.root, k) for k in run_keys}
        deliver(self, self._show_system, by_run)  # type: ignore[arg-type]

    async def _show_system(self, by_run: dict[str, Curves]) -> None:
        pane = self.query_one(SystemPane)  # type: ignore[attr-defined]
        await pane.show(by_run, self.system_labels())

    @store_work("reading the console output", group="console")
    def load_console(self, offset: int) -> None:
        text, end = read_console(self.root, self.run_key, offset)
        deliver(self, self._show_console, offset, text, end)  # type: ignore[arg-type]

    def _show_console(self, start: int, text: str, end: int) -> None:
        pane = self.query_one(ConsolePane)  # type: ignore[attr-defined]
        if pane.read_offset == start:  # not a read of text already shown
            pane.show(text, end)


class SystemScreen(ContextLoads, StoreScreen):
    """The system-metrics pane, full-screen."""

    BINDINGS: ClassVar = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key

    def compose(self) -> ComposeResult:
        yield Header()
        yield SystemPane(self.run_key, id="system")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load_context()
        self.refresh_every(REFRESH_SECONDS, self.load_context, "system")


class ConsoleScreen(ContextLoads, StoreScreen):
    """The console pane, full-screen."""

    BINDINGS: ClassVar = [
        Binding("escape,q", "leave", "Back"),
        Binding("f", "focus_filter", "Filter", tooltip="filter the console output: type text"),
    ]

    def __init__(self, root: Path, run_key: str) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConsolePane(id="console")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#console-log").focus()
        self.load_context()
        self.refresh_every(REFRESH_SECONDS, self.load_context, "console")

    @property
    def lines(self) -> list[str]:
        return self.query_one(ConsolePane).lines

    def action_focus_filter(self) -> None:
        self.query_one("#console-filter").focus()

    def action_leave(self) -> None:
        leave(self)
