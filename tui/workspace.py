"""A screen as a workspace of panes (the run and compare screens), each toggled by a key.

A screen lists its panes in a registry (a tuple of `Pane`): adding a pane is one entry
saying its key, its region (the left column, the main area beside it, or the bottom row),
the smallest height it is readable at and how to build it. The screen composes the regions
from the registry with `compose_regions()`.

Panes shown are ordered most recently shown first. When the terminal cannot hold all of
them at their smallest sizes (80x24 with every pane on), the least recently shown are hidden,
never clipped, and the user is told which; they come back when the terminal grows or other
panes are hidden. The layout (panes, grid rows and columns, x axis, smoothing, log-y) is the
user's, remembered across sessions in tui/layout_file.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input

from .chart_view import SMOOTHING
from .charts import CHART_MIN_WIDTH
from .layout_file import Layout, load_layout, save_layout

MAX_COLUMNS = 3
MAX_ROWS = 3
REGIONS = ("left", "main", "bottom")
NARROW = 110  # below this width the left column needs more room (its table loses a column)
CHROME_ROWS = 2  # header and footer
MAIN_CHROME = 3  # the charts' regex bar, docked over the main region


@dataclass(frozen=True)
class Pane:
    """One pane of a workspace: widget id `name`, toggled by `key`."""

    name: str
    key: str
    title: str
    region: str  # "left", "main" or "bottom"
    min_height: int  # rows it needs to be readable
    build: Callable[[Any], Widget]  # the screen -> the pane's widget (id = name)
    default: bool = True  # shown in a fresh layout


def pane_bindings(panes: tuple[Pane, ...]) -> list[Binding]:
    """The toggle keys of a registry, plus the grid's (for the screen's BINDINGS)."""
    return [
        *(
            Binding(
                p.key,
                f"pane('{p.name}')",
                show=False,
                description=f"{p.name} pane",
                tooltip=f"show or hide the {p.title}",
            )
            for p in panes
        ),
        Binding(
            "tab",
            "focus_pane(1)",
            show=False,
            description="next pane",
            tooltip="focus the next pane shown (text boxes are reached by their own keys)",
        ),
        Binding(
            "shift+tab",
            "focus_pane(-1)",
            show=False,
            description="previous pane",
            tooltip="focus the previous pane shown",
        ),
        Binding("g", "grid_columns", "Grid", tooltip="charts in 1, 2 or 3 columns"),
        Binding(
            "G",
            "grid_rows",
            show=False,
            description="grid rows",
            tooltip="charts in 1, 2 or 3 rows filling the pane, or fixed-height charts",
        ),
    ]


def fits(panes: list[Pane], width: int, height: int) -> bool:
    """Whether `panes` can all be shown at their smallest sizes in a width x height terminal."""
    left = [p for p in panes if p.region == "left"]
    main = [p for p in panes if p.region == "main"]
    bottom = [p for p in panes if p.region == "bottom"]
    left_w = (46 if width < NARROW else 36) if left else 0
    if left_w + (30 if main else 0) > width or 30 * len(bottom) > width:
        return False
    top = max(
        sum(p.min_height for p in left),
        max((p.min_height + MAIN_CHROME for p in main), default=0),
    )
    return top + max((p.min_height for p in bottom), default=0) <= height - CHROME_ROWS


def arrange(panes: list[Pane], width: int, height: int) -> tuple[list[Pane], list[Pane]]:
    """(shown, hidden for lack of room): the most recently shown first, each while it fits."""
    shown: list[Pane] = []
    hidden: list[Pane] = []
    for p in panes:
        (shown if fits([*shown, p], width, height) else hidden).append(p)
    return shown, hidden


#: esc or q on a workspace screen: out of a text box first, back after (`leave`)
LEAVE = Binding("escape,q", "leave", "Back", tooltip="out of a text box, else back")


def leave(screen: Any) -> None:
    """esc: out of a text box first (its text stays), back to the previous screen after."""
    if isinstance(screen.focused, Input):
        chain = [w for w in screen.focus_chain if not isinstance(w, Input)]
        screen.set_focus(chain[0] if chain else None)
    else:
        screen.app.pop_screen()


class Workspace:
    """Mixed into a screen (its BINDINGS include `pane_bindings(PANES)`)."""

    PANES: tuple[Pane, ...] = ()
    LAYOUT_NAME = ""
    ws_layout: Layout
    too_small: list[str]  # panes wanted but hidden for lack of room (what the notice said)

    # the layout's chart settings, remembered per user
    x_axis = property(lambda s: s.ws_layout.x_axis, lambda s, v: setattr(s.ws_layout, "x_axis", v))
    log_y = property(lambda s: s.ws_layout.log_y, lambda s, v: setattr(s.ws_layout, "log_y", v))
    smoothing = property(
        lambda s: s.ws_layout.smoothing % len(SMOOTHING),
        lambda s, v: setattr(s.ws_layout, "smoothing", v),
    )

    def load_layout(self) -> None:
        default = Layout(panes=[p.name for p in self.PANES if p.default])
        self.ws_layout, problem = load_layout(self.LAYOUT_NAME, default)
        names = {p.name for p in self.PANES}
        self.ws_layout.panes = [n for n in dict.fromkeys(self.ws_layout.panes) if n in names]
        self.ws_layout.columns = min(max(self.ws_layout.columns, 1), MAX_COLUMNS)
        self.ws_layout.rows = min(max(self.ws_layout.rows, 0), MAX_ROWS)
        self.too_small = []
        if problem:
            self.notify(problem, severity="warning", markup=False)  # type: ignore[attr-defined]

    def save_layout(self) -> None:
        problem = save_layout(self.LAYOUT_NAME, self.ws_layout)
        if problem:
            self.notify(problem, severity="warning", markup=False)  # type: ignore[attr-defined]

    def compose_regions(self, main_top: Callable[[], Iterator[Widget]]) -> Iterator[Widget]:
        """The left column and main area side by side, the bottom row under them; every pane
        of the registry is built once and shown or hidden by `fit_panes()`."""

        def region(name: str) -> list[Widget]:
            return [p.build(self) for p in self.PANES if p.region == name]

        with Horizontal(id="ws-top"):
            with Vertical(id="run-left"):
                yield from region("left")
            with Vertical(id="run-right"):
                yield from main_top()
                yield from region("main")
        with Horizontal(id="ws-bottom"):
            yield from region("bottom")

    def fit_panes(self) -> None:
        """Show the wanted panes that fit the terminal, hide the rest, and say which."""
        size = self.app.size  # type: ignore[attr-defined]
        by_name = {p.name: p for p in self.PANES}
        shown, hidden = arrange(
            [by_name[n] for n in self.ws_layout.panes], size.width, max(size.height, 1)
        )
        visible = {p.name for p in shown}
        top = any(p.region != "bottom" for p in shown)
        bottom = max((p.min_height for p in shown if p.region == "bottom"), default=0)
        if top and bottom:  # the bottom row takes 40% of the height, at least what it needs
            bottom = max(bottom, (size.height - CHROME_ROWS) * 2 // 5)
        # a pane sized by its content (the overview) gets what the others leave
        slack = size.height - CHROME_ROWS - bottom
        slack -= sum(p.min_height for p in shown if p.region == "left")
        for p in self.PANES:
            widget = self.query_one(f"#{p.name}")  # type: ignore[attr-defined]
            widget.display = p.name in visible
            widget.styles.min_height = p.min_height  # what fits() counted on
            if p.region == "left" and widget.styles.height and widget.styles.height.is_auto:
                widget.styles.max_height = p.min_height + max(slack, 0)
        boxes = (("left", "#run-left"), ("main", "#run-right"), ("bottom", "#ws-bottom"))
        for region, box in boxes:
            self.query_one(box).display = any(p.region == region for p in shown)  # type: ignore[attr-defined]
        self.query_one("#ws-top").display = top  # type: ignore[attr-defined]
        self.query_one("#ws-bottom").styles.height = bottom if top else "1fr"  # type: ignore[attr-defined]
        names = [p.name for p in hidden]
        if names and names != self.too_small:
            self.notify(  # type: ignore[attr-defined]
                f"{size.width}x{size.height} is too small for every pane: hidden "
                f"{', '.join(names)} (a bigger terminal, or hide another pane with its key, "
                "brings it back)",
                severity="warning",
            )
        self.too_small = names
        # the keys stay with something visible, not a text box (it would eat the pane keys)
        chain = [w for w in self.focus_chain if not isinstance(w, Input)]  # type: ignore[attr-defined]
        if self.focused not in self.focus_chain and chain:  # type: ignore[attr-defined]
            chain[0].focus()

    def action_leave(self) -> None:
        leave(self)

    def action_pane(self, name: str) -> None:
        """Hide a shown pane; show a hidden one, first in line for the room."""
        panes = self.ws_layout.panes
        if name in panes and name not in self.too_small:
            panes.remove(name)
        else:
            self.ws_layout.panes = [name, *(n for n in panes if n != name)]
        self.fit_panes()
        self.save_layout()
        self.pane_toggled(name)

    def action_focus_pane(self, step: int) -> None:
        """tab / shift+tab: the keys to the next (previous) pane shown that takes them, in the
        registry's order, skipping text boxes (Textual's own tab stops in every one, and a
        pane key pressed there is typed instead)."""
        focused = self.focused  # type: ignore[attr-defined]
        chain = [w for w in self.focus_chain if not isinstance(w, Input)]  # type: ignore[attr-defined]
        stops: list[Widget] = []  # each shown pane's first widget taking keys
        current = None
        for p in self.PANES:
            pane = self.query_one(f"#{p.name}")  # type: ignore[attr-defined]
            inside = [w for w in chain if w is pane or pane in w.ancestors]
            if not pane.display or not inside:
                continue
            if focused is not None and (focused is pane or pane in focused.ancestors):
                current = len(stops)
            stops.append(inside[0])
        if stops:
            stops[0 if current is None else (current + step) % len(stops)].focus()

    def pane_toggled(self, name: str) -> None:
        """The screen's hook: a pane was shown or hidden (load its data, say so)."""

    def action_grid_columns(self) -> None:
        self.ws_layout.columns = self.ws_layout.columns % MAX_COLUMNS + 1
        shown = self.apply_grid()
        self.save_layout()
        n = self.ws_layout.columns
        text = f"charts in {n} column{'s' if n > 1 else ''}"
        if shown < n:
            text += f" ({shown} fit{'s' if shown == 1 else ''}: widen the terminal or hide a pane)"
        self.notify(text)  # type: ignore[attr-defined]

    def action_grid_rows(self) -> None:
        self.ws_layout.rows = (self.ws_layout.rows + 1) % (MAX_ROWS + 1)
        self.apply_grid()
        self.save_layout()
        n = self.ws_layout.rows
        rows = f"charts in {n} row{'s' if n > 1 else ''} filling the pane"
        self.notify(rows if n else "charts 14 rows high")  # type: ignore[attr-defined]

    def apply_grid(self) -> int:
        """The chart box as rows x columns: columns side by side, as many as fit at a chart's
        least width (a narrow box keeps fewer, never clipped; more come back when it widens,
        each resize calls this); with rows set, each chart is 1/rows of the box's height
        (more charts than rows x columns scroll). Returns the columns shown."""
        box = self.query_one("#charts")  # type: ignore[attr-defined]
        fits = box.size.width // CHART_MIN_WIDTH if box.size.width else MAX_COLUMNS
        n = max(1, min(self.ws_layout.columns, fits))
        box.styles.layout = "grid" if n > 1 else "vertical"
        box.styles.grid_size_columns = n
        box.styles.grid_rows = "auto"
        height = max(box.size.height // self.ws_layout.rows, 8) if self.ws_layout.rows else None
        for card in box.children:
            card.styles.height = height if height else "auto"
            card.set_class(bool(height), "fill")
        return n
