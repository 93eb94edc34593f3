"""The compare screen's media pane: one media key of every compared run, side by side.

    pane = CompareMedia(root, ["p/run1", "p/run2"])  # mount it anywhere
    pane.show_step(120)   # each run's value of the key at its last step at or before 120

The key is chosen in the list on the left (every key any of the runs logged); `,` / `.` step
through the steps any run logged it at, and the compare screen's step cursor calls
`show_step`. Each run's column draws its value with the media pane's MediaBody (images in
half blocks inside tmux, tables sortable); every stored string is shown escaped.
"""

from __future__ import annotations

from bisect import bisect_right
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


class CompareMedia(Widget):
    """The same media key of each run in `run_keys`, side by side, at one step."""

    DEFAULT_CSS = """
    CompareMedia { height: 1fr; }
    CompareMedia #compare-media-keys { width: 28; height: 1fr; }
    CompareMedia #compare-media-info { height: auto; padding: 0 1; }
    CompareMedia .run-media { width: 1fr; height: 1fr; border-left: vkey $primary 30%; }
    CompareMedia .run-media-info { height: auto; padding: 0 1; }
    """

    BINDINGS: ClassVar = [
        Binding("comma", "step(-1)", "◂ step", tooltip="the key's previous logged step"),
        Binding("full_stop", "step(1)", "step ▸", tooltip="the key's next logged step"),
    ]

    def __init__(self, root: Path, run_keys: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root, self.run_keys = root, run_keys
        self.media: dict[str, dict[str, MediaKey]] = {}  # run key -> media key -> values
        self.selected: str | None = None
        self.step: int | None = None  # None: each run's last value
        self.loaded = False
        self.labels: list[str] = []  # the key list's lines

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="compare-media-keys")
            with Vertical():
                yield Static("loading media…", id="compare-media-info")
                with Horizontal():
                    for i, _ in enumerate(self.run_keys):
                        with Vertical(classes="run-media"):
                            yield Static("", classes="run-media-info", id=f"run-info-{i}")
                            yield MediaBody(id=f"run-body-{i}")

    def on_mount(self) -> None:
        self._load()

    # -- public ----------------------------------------------------------------------------
    def show_step(self, step: int) -> None:
        """Each run's value of the key logged last at or before `step`."""
        self.step = step
        self._show()

    def reload(self) -> None:
        """Read the runs' media again (they train): the key and step shown are kept."""
        self._load()

    def current(self) -> dict[str, MediaRef | None]:
        """Run key -> the reference on show (None: the run did not log the key)."""
        return {k: ref for k, (_, ref) in zip(self.run_keys, self._at_step(), strict=True)}

    # -- loading ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="compare-media", exit_on_error=False)
    def _load(self) -> None:
        media = {k: {m.key: m for m in load_media(self.root, k)} for k in self.run_keys}
        deliver(self.screen, self._fill, media)

    def _fill(self, media: dict[str, dict[str, MediaKey]]) -> None:
        self.media = media
        keys = sorted({key for per_run in media.values() for key in per_run})
        options = self.query_one("#compare-media-keys", OptionList)
        labels = [self._key_label(k) for k in keys]
        if labels != self.labels:  # a live reload of the same keys keeps the list as it is
            self.labels = labels
            options.clear_options()
            options.add_options(
                [Option(Text(label), k) for label, k in zip(labels, keys, strict=True)]
            )
        self.loaded = True
        if not keys:
            self.query_one("#compare-media-info", Static).update(
                "none of these runs logged media (log flightlog.Image, Table, Audio, Video or Html)"
            )
            return
        options.highlighted = keys.index(self.selected) if self.selected in keys else 0
        self.selected = keys[options.highlighted]
        self._show()

    def _key_label(self, key: str) -> str:
        logged = sum(key in per_run for per_run in self.media.values())
        return f"{safe(key)}  {logged} of {len(self.media)} runs"

    @on(OptionList.OptionHighlighted, "#compare-media-keys")
    def _key_chosen(self, event: OptionList.OptionHighlighted) -> None:
        self.selected = str(event.option.id)
        self._show()

    # -- showing ---------------------------------------------------------------------------
    def _steps(self) -> list[int]:
        """Every step at which any run logged the selected key."""
        per_run = (r.get(self.selected or "") for r in self.media.values())
        return sorted({s for m in per_run if m is not None for s in m.steps})

    def _at_step(self) -> list[tuple[int | None, MediaRef | None]]:
        """Per run: the (step, reference) shown for the selected key."""
        out: list[tuple[int | None, MediaRef | None]] = []
        for run_key in self.run_keys:
            m = self.media.get(run_key, {}).get(self.selected or "")
            if m is None or not m.refs:
                out.append((None, None))
                continue
            i = len(m.refs) - 1 if self.step is None else m.index_at(self.step)
            out.append((m.steps[i], m.refs[i]))
        return out

    def _show(self) -> None:
        if self.selected is None:
            return
        steps = self._step_label()
        self.query_one("#compare-media-info", Static).update(
            Text(f"{safe(self.selected)} · {steps}")
        )
        for i, (run_key, (step, ref)) in enumerate(
            zip(self.run_keys, self._at_step(), strict=True)
        ):
            what = f"step {step} · {describe(ref)}" if ref is not None else "not logged"
            self.query_one(f"#run-info-{i}", Static).update(Text(safe(f"{run_key} · {what}")))
            self.query_one(f"#run-body-{i}", MediaBody).show(
                ref, (self.selected, step), f"{run_key} did not log {self.selected}"
            )

    def _step_label(self) -> str:
        logged = f"({len(self._steps())} steps logged)"
        if self.step is None:
            return f"each run's last value {logged}"
        return f"at step {self.step} {logged}"

    def action_step(self, delta: int) -> None:
        steps = self._steps()
        if not steps:
            return
        if self.step is None:
            i = len(steps) - 1 + min(delta, 0)
        else:
            i = max(bisect_right(steps, self.step) - 1, 0) + delta
        self.show_step(steps[min(max(i, 0), len(steps) - 1)])
