"""The media pane: the images, tables, audio, video and HTML a run logged, one panel per key.

    pane = MediaPane(root, "project/run_id")   # a self-contained widget: mount it anywhere
    pane.show_step(120)                        # every key at its last value at or before 120

Images are drawn by textual-image, in the best protocol the terminal has (Kitty graphics,
Sixel), else Unicode half blocks (always inside tmux or screen). tui/image_support.py asks
the terminal which before Textual takes the terminal over (tui/app.py's run imports it).
Tables are a sortable DataTable; audio, video and HTML are listed with their metadata, and
`v` opens the file with the system viewer (xdg-open / open) when there is one. Everything
read from the store is shown escaped: a caption cannot send escape codes to the terminal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from flightlog.store.media_ref import MediaRef
from flightlog.store.text import safe

from .media_body import MediaBody
from .media_data import MediaKey, describe, load_media
from .workers import deliver

#: where files are copied (named with their format's suffix) for the system viewer
OPEN_DIR = Path(tempfile.gettempdir()) / "flightlog-media"


class MediaPane(Widget):
    """A run's logged media. `root` is the store root, `run_key` "project/run_id"; it loads
    when mounted (and on `reload()`). Keys: `,` / `.` step back / forward through the
    selected key's steps, `v` opens the file with the system viewer."""

    DEFAULT_CSS = """
    MediaPane { height: 1fr; }
    MediaPane #media-keys { width: 32; height: 1fr; }
    MediaPane #media-view { width: 1fr; height: 1fr; }
    MediaPane #media-info { height: auto; padding: 0 1; }
    """

    BINDINGS: ClassVar = [
        Binding("comma", "step(-1)", "◂ step", tooltip="this key's previous logged step"),
        Binding("full_stop", "step(1)", "step ▸", tooltip="this key's next logged step"),
        Binding("v", "open", "Open", tooltip="open the file with the system viewer"),
    ]

    def __init__(self, root: Path, run_key: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root, self.run_key = root, run_key
        self.keys: dict[str, MediaKey] = {}
        self.positions: dict[str, int] = {}  # per key: the index of the value shown
        self.selected: str | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="media-keys")
            with Vertical(id="media-view"):
                yield Static("loading media…", id="media-info")
                yield MediaBody(id="media-body")

    def on_mount(self) -> None:
        self.reload()

    # -- public ----------------------------------------------------------------------------
    def reload(self) -> None:
        self._load()

    def show_step(self, step: int) -> None:
        """Show every key at its last value logged at or before `step`."""
        self.positions = {k: m.index_at(step) for k, m in self.keys.items()}
        self._show()

    def current(self) -> MediaRef | None:
        """The reference on show (None before loading, or when the run has no media)."""
        if self.selected is None:
            return None
        return self.keys[self.selected].refs[self.positions[self.selected]]

    # -- loading ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="media-keys", exit_on_error=False)
    def _load(self) -> None:
        deliver(self.screen, self._fill, load_media(self.root, self.run_key))

    def _fill(self, keys: list[MediaKey]) -> None:
        self.keys = {m.key: m for m in keys}
        for k, m in self.keys.items():
            self.positions.setdefault(k, len(m.refs) - 1)
        options = self.query_one("#media-keys", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(Text(f"{safe(m.key)}  {m.kind.removesuffix('-file')} ×{len(m.refs)}"), m.key)
                for m in keys
            ]
        )
        self.loaded = True
        if not keys:
            self.query_one("#media-info", Static).update(
                "this run logged no media (log flightlog.Image, Table, Audio, Video or Html)"
            )
            return
        index = list(self.keys).index(self.selected) if self.selected in self.keys else 0
        options.highlighted = index
        self.selected = keys[index].key
        self._show()

    @on(OptionList.OptionHighlighted, "#media-keys")
    def _key_chosen(self, event: OptionList.OptionHighlighted) -> None:
        self.selected = str(event.option.id)
        self._show()

    # -- showing ---------------------------------------------------------------------------
    def _show(self) -> None:
        ref = self.current()
        if ref is None or self.selected is None:
            return
        m, i = self.keys[self.selected], self.positions[self.selected]
        info = (
            f"{safe(m.key)} · step {m.steps[i]} ({i + 1} of {len(m.steps)}) · {safe(describe(ref))}"
        )
        self.query_one("#media-info", Static).update(Text(info))
        self.query_one("#media-body", MediaBody).show(ref, (m.key, i))

    def action_step(self, delta: int) -> None:
        if self.selected is None:
            return
        last = len(self.keys[self.selected].refs) - 1
        self.positions[self.selected] = min(max(self.positions[self.selected] + delta, 0), last)
        self._show()

    def action_open(self) -> None:
        ref = self.current()
        if ref is None:
            return
        try:  # a list of images: the first is opened, and the others are beside it
            paths = ref.exports(OPEN_DIR)
        except (OSError, KeyError, ValueError) as e:
            self.notify(safe(f"cannot open: {e!r}"), severity="error", markup=False)
            return
        if not paths:
            self.notify("nothing to open: the list holds no image", markup=False)
            return
        path = paths[0]
        if len(paths) > 1:
            self.notify(safe(f"{len(paths)} images copied to {path.parent}"), markup=False)
        viewer = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
        if viewer is None:
            self.notify(safe(f"no system viewer here; the file is {path}"), markup=False)
            return
        subprocess.Popen(
            [viewer, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.notify(safe(f"opened {path}"), markup=False)
