"""The artifacts screen: every artifact version of the store with its lineage (runs screen
`A`), or the versions one run logged or used (run screen `A`).

One row per version: project/name, version, type, aliases (`latest` first), size, digest,
the run that logged it and the runs that used it. Read through store/artifact_read.py (the
TUI needs nothing outside the store package); every stored string is shown escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Header, Static

from flightlog.store.artifact_read import ArtifactReader, VersionRow, size_text
from flightlog.store.layout import split_run_key
from flightlog.store.text import safe

from .footer import KeyFooter
from .table import Table
from .workers import StoreScreen, deliver, store_work

COLUMNS = ("artifact", "version", "type", "aliases", "size", "digest", "logged by", "used by")


class ArtifactsScreen(StoreScreen):
    """Artifact versions and lineage; `run_key` narrows the list to one run's."""

    BINDINGS: ClassVar = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "reload", "Refresh", tooltip="read the artifacts again"),
    ]

    def __init__(self, root: Path, run_key: str | None = None) -> None:
        super().__init__()
        self.root, self.run_key = root, run_key
        # lineage names a run "project/id" (no entity)
        self.run = "/".join(split_run_key(run_key)[1:]) if run_key else None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Table(id="artifacts", zebra_stripes=True, cursor_type="row")
        yield Static("loading artifacts…", id="artifacts-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"artifacts of {self.run_key}" if self.run_key else "artifacts"
        table = self.query_one("#artifacts", DataTable)
        table.add_columns(*COLUMNS, *(("this run",) if self.run_key else ()))
        table.focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @store_work("reading the artifacts")
    def load(self) -> None:
        rows = ArtifactReader(self.root).rows()
        if self.run:
            rows = [r for r in rows if r.logged_by == self.run or self.run in r.used_by]
        deliver(self, self.show, rows)

    def show(self, rows: list[VersionRow]) -> None:
        table = self.query_one("#artifacts", DataTable)
        table.clear()
        for r in rows:
            cells = [
                f"{r.project}/{r.name}",
                f"v{r.version}",
                r.type,
                ", ".join(r.aliases),
                size_text(r.size),
                r.digest[:12],
                r.logged_by or "-",
                ", ".join(r.used_by) or "-",
            ]
            if self.run:
                cells.append(_role(r, self.run))
            table.add_row(*(Text(safe(c)) for c in cells))
        names = len({(r.project, r.name) for r in rows})
        where = f" for {self.run_key}" if self.run_key else ""
        status = (
            f"{len(rows)} versions of {names} artifacts{where}"
            if rows
            else f"no artifacts{where} (run.log_artifact / use_artifact record them)"
        )
        self.query_one("#artifacts-status", Static).update(Text(safe(status)))
        self.loaded = True


def _role(r: VersionRow, run: str) -> str:
    """What the run did with the version: logged, used, or both."""
    roles = (("logged", r.logged_by == run), ("used", run in r.used_by))
    return " + ".join(role for role, did in roles if did)
