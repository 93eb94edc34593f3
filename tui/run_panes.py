"""The run screen's panes, in display order: adding a pane to the workspace is one entry.

Keys 1-4 are the run's own panes (as before the workspace), 5-8 what used to be separate
screens or was missing. A pane widget with a `show_step(step)` method (the media pane)
follows the charts' step cursor (the run screen calls it on every cursor move).
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static, Tree

from .context_screens import ConsolePane, SystemPane
from .media_pane import MediaPane
from .runs_pane import RunsPane
from .table import Table
from .workspace import Pane

RUN_PANES: tuple[Pane, ...] = (
    Pane(
        "runs",
        "5",
        "runs list (space overlays a run on the charts, p pins it)",
        "left",
        6,
        lambda s: RunsPane([s.run_key], id="runs"),
        default=False,
    ),
    Pane("overview", "1", "overview", "left", 4, lambda s: Static("loading…", id="overview")),
    Pane(
        "metrics",
        "2",
        "metric table",
        "left",
        6,
        lambda s: Table(id="metrics", cursor_type="row", zebra_stripes=True),
    ),
    Pane("config", "3", "config tree", "left", 4, lambda s: Tree("config", id="config")),
    Pane("charts", "4", "charts", "main", 10, lambda s: VerticalScroll(id="charts")),
    Pane(
        "system",
        "6",
        "system metrics",
        "bottom",
        8,
        lambda s: SystemPane(s.run_key, id="system"),
        default=False,
    ),
    Pane(
        "console",
        "7",
        "console output (f filters it)",
        "bottom",
        8,
        lambda s: ConsolePane(id="console"),
        default=False,
    ),
    Pane(
        "media",
        "8",
        "media at the cursor's step (i: full screen)",
        "bottom",
        8,
        lambda s: MediaPane(s.root, s.run_key, id="media"),
        default=False,
    ),
)
