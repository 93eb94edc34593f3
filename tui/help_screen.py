"""The `?` screen: flightlog's own keys, grouped by screen, the current screen's first.

Built from each screen's BINDINGS (hidden ones included), so it cannot drift from what the
keys do. The table's own cursor keys (arrows, page up/down, home/end) are listed once at
the end instead of crowding out flightlog's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EVERYWHERE = [
    ("?", "this help (esc closes it)"),
    ("ctrl+p", "command palette: every action of the screen, searchable"),
    ("q / esc", "back to the previous screen; on the runs screen q quits"),
    ("↑ ↓ ← →, pgup pgdn, home end", "move in a table or list"),
]
FILTER = [
    ("text", "name, id, group or a tag contains it (any case)"),
    ("tag:T  state:S  project:P", "a field equals a value; -tag:T excludes"),
    ("summary.val/acc>=0.95", "comparisons < <= > >= = != ~ (regex)"),
    ("a or b, not a, ( )", "terms side by side are joined by and"),
    ("enter", "applies the filter; an empty bar shows every run"),
]


def screens() -> list[tuple[str, type[Any]]]:
    from .artifacts_screen import ArtifactsScreen
    from .compare_media import CompareMedia
    from .compare_screen import CompareScreen
    from .context_screens import ConsoleScreen, SystemScreen
    from .media_pane import MediaPane
    from .run_screen import RunScreen
    from .runs_pane import RunsPane
    from .runs_screen import RunsScreen

    return [
        ("runs", RunsScreen),
        ("run", RunScreen),
        ("compare", CompareScreen),
        ("runs pane (5, on the run and compare screens)", RunsPane),
        ("media pane (8 on the run screen, i full screen), when it has the keys", MediaPane),
        ("compare media pane (8 on the compare screen), when it has the keys", CompareMedia),
        ("system metrics", SystemScreen),
        ("console output", ConsoleScreen),
        ("artifacts (A, on the runs and run screens)", ArtifactsScreen),
    ]


def keys_of(screen: type[Any]) -> list[tuple[str, str]]:
    out = []
    for b in screen.BINDINGS:
        if isinstance(b, Binding) and b.description:
            keys = " / ".join(_key(k) for k in b.key.split(","))
            out.append((keys, b.tooltip or b.description))
    return out


def _key(key: str) -> str:
    return {
        "slash": "/",
        "space": "space",
        "question_mark": "?",
        "escape": "esc",
        "comma": ",",
        "full_stop": ".",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "plus": "+",
        "equals_sign": "=",
        "minus": "-",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
    }.get(key, key)


def _section(title: str, rows: list[tuple[str, str]]) -> Group:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    for key, what in rows:
        t.add_row(key, what)
    return Group(Text(title, style="bold underline"), t)


class HelpScreen(ModalScreen[None]):
    """Keys by screen; the screen it was opened from comes first."""

    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%; border: round $accent; padding: 0 1;
        background: $surface;
    }
    HelpScreen Static { margin-bottom: 1; }
    """

    def __init__(self, current: type[Any] | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        ordered = sorted(screens(), key=lambda s: s[1] is not self.current)
        with VerticalScroll() as box:
            box.border_title = "flightlog keys (esc closes)"
            for title, screen in ordered:
                here = " (this screen)" if screen is self.current else ""
                yield Static(_section(title + here, keys_of(screen)))
                if title == "runs":
                    yield Static(_section("runs: the filter bar (/)", FILTER))
            yield Static(_section("everywhere", EVERYWHERE))
