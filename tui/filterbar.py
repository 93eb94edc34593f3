"""The runs screen's filter bar: the filter language of `--where` (store/filters.py), typed in.

    digits -tag:unstable state:finished summary.val/acc>=0.95

What is typed is applied when enter is pressed, never half-typed: a prefix such as
`summary.loss <` would otherwise filter (or fail) on every key. A bad expression shows the
same error as the CLI, with a caret under the token, and the table keeps its rows. An empty
bar and enter clear the filter.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from flightlog.store.filters import FilterError, compile_filter
from flightlog.store.text import safe

PLACEHOLDER = "filter (enter applies): text  tag:T  -tag:T  state:S  summary.loss<0.3  or ( )"


class FilterBar(Vertical):
    """An input and its error line; posts `FilterBar.Applied` with a valid expression."""

    DEFAULT_CSS = """
    FilterBar { height: auto; }
    FilterBar #filter-error { color: $error; height: auto; padding: 0 0; display: none; }
    """

    class Applied(Message):
        """A complete, valid filter was entered (`where` is None: no filter)."""

        def __init__(self, where: str | None) -> None:
            super().__init__()
            self.where = where

    def compose(self) -> ComposeResult:
        yield Input(placeholder=PLACEHOLDER, id="filter", select_on_focus=False)  # edit, not retype
        yield Static("", id="filter-error", markup=False)

    @property
    def error(self) -> Static:
        return self.query_one("#filter-error", Static)

    def show(self, where: str | None) -> None:
        """Show the filter in force (e.g. when the user leaves with esc), without errors."""
        bar = self.query_one("#filter", Input)
        bar.value = where or ""
        bar.cursor_position = len(bar.value)  # typing goes on at the end, not mid-word
        self.error.display = False

    @on(Input.Submitted, "#filter")
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            if text:
                compile_filter(text)
        except FilterError as e:
            # the caret lines up under the token: the input's text starts 2 cells in, too
            self.error.update("✗ " + safe(str(e), newlines=True))
            self.error.display = True
            return
        self.error.display = False
        self.post_message(self.Applied(text or None))
