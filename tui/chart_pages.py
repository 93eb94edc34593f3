"""Which of the keys a screen would chart are drawn: a page of them at a time.

Each chart is a plotext draw on every live refresh, so a screen draws at most `per_page`
(the compare screen 8, the run screen 12). The rest used to be dropped without a word: a
run's 13th metric, or a `define_metric(step_metric=...)` run's metrics sorted past the first
eight, could not be charted at all. Now `n` / `N` turn the pages, `/` narrows the keys by
name (a regex, as wandb's panel search), and the line over the charts says how many keys
are not drawn and how to reach them; it is hidden while every key is drawn.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

PAGE_BINDINGS: list[Binding] = [
    Binding(
        "n",
        "chart_page(1)",
        show=False,
        description="next charts",
        tooltip="the next page of charts (the line over them says how many are not drawn)",
    ),
    Binding(
        "N",
        "chart_page(-1)",
        show=False,
        description="previous charts",
        tooltip="the previous page of charts",
    ),
]


class ChartStatus(Static):
    """The line over the charts: what is not drawn, and the keys that draw it."""

    DEFAULT_CSS = """
    ChartStatus { height: auto; padding: 0 1; color: $text-muted; display: none; }
    """
    said = ""  # the text shown


class ChartPages:
    """Mixed into a chart screen: `page_of()` picks the page drawn and says so in the
    screen's ChartStatus; `charts_changed()` is the screen's (redraw, or re-query when
    zoomed)."""

    PER_PAGE: ClassVar[int] = 12
    regex: re.Pattern[str] | None  # the keys' filter (/), None: every key
    chart_page: int = 0
    pages: int = 1  # of the last page_of()

    def charts_changed(self) -> None:
        raise NotImplementedError

    def page_of(self, picked: list[str]) -> list[str]:
        """The keys of the current page among `picked` (the keys the screen would chart)."""
        per = self.PER_PAGE
        self.pages = max(1, -(-len(picked) // per))
        self.chart_page = min(self.chart_page, self.pages - 1)
        return picked[self.chart_page * per : (self.chart_page + 1) * per]

    def show_status(self, drawn: int, total: int, noun: str, hint: str) -> None:
        """The line over the charts while `drawn` < `total` keys (`noun` names them, `hint`
        says how to show others than the pages hold)."""
        line = self.query_one(ChartStatus)  # type: ignore[attr-defined]
        line.display = drawn < total
        if line.display:
            parts = [f"{total - drawn} of {total} {noun} not drawn"]
            if self.pages > 1:
                parts.append(f"n / N: page {self.chart_page + 1} of {self.pages}")
            text = " · ".join([*parts, hint])
            if text != line.said:  # (an update lays the screen out: a live run's every 2 s)
                line.said = text
                line.update(Text(text))

    def filter_charts(self, text: str) -> None:
        """Chart the keys matching regex `text` (blank: every key), from the first page; a
        regex that does not compile (half typed) leaves the charts as they are."""
        text = text.strip()
        try:
            self.regex = re.compile(text) if text else None
        except re.error as e:
            self.notify(f"bad regex: {e}", severity="error")  # type: ignore[attr-defined]
            return
        self.chart_page = 0
        self.charts_changed()

    def action_chart_page(self, step: int) -> None:
        if self.pages > 1:
            self.chart_page = (self.chart_page + step) % self.pages
            self.charts_changed()
