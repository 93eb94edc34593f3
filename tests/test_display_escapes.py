"""Stored text never reaches a terminal raw: control characters are shown as escapes and
Rich markup in names is shown as typed, by the CLI and the TUI alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import flightlog
from flightlog.cli import main
from flightlog.store.text import safe
from flightlog.tui import FlightlogApp
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable

from .test_tui_workers import settle

#: every control byte a terminal acts on (a newline between lines is fine)
CONTROL_BYTES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")
HOSTILE = "evil\x1b[2J\x1b]0;owned\x07\r[red]x[/]\u202eend"
SHOWN = r"evil\x1b[2J\x1b]0;owned\x07\r[red]x[/]\u202eend"  # how it is displayed


def hostile_run(store: Path) -> str:
    """A run as another user's upload could arrive on a server store: control sequences
    and markup in every text field (the API refuses them in names, so run.json is edited
    the way a foreign writer would have written it)."""
    run = flightlog.init(project="p", name="plain", config={f"k{HOSTILE}": f"v{HOSTILE}"})
    run.log({f"loss{HOSTILE}": 1.0, "acc": 0.5})
    run.log({f"loss{HOSTILE}": 0.5, "acc": 0.6})
    run.summary[f"extra{HOSTILE}"] = 3
    run.finish(quiet=True)
    meta_path = Path(run.dir) / "run.json"
    meta = json.loads(meta_path.read_text())
    meta.update(
        name=f"name{HOSTILE}",
        tags=[f"tag{HOSTILE}"],
        notes=f"notes{HOSTILE}",
        group=f"group{HOSTILE}",
        job_type=f"job{HOSTILE}",
        host=f"host{HOSTILE}",
        command=[f"cmd{HOSTILE}"],
    )
    meta_path.write_text(json.dumps(meta))
    return run.id


def test_safe_escapes_controls_and_keeps_text() -> None:
    assert safe("a\x1b[31mb\x07\r\n") == "a\\x1b[31mb\\x07\\r\\n"
    assert safe("x\ny\tz", newlines=True) == "x\ny\tz"
    assert safe("rtl\u202eoverride") == "rtl\\u202eoverride"
    assert safe("é ✓ [red]x[/]") == "é ✓ [red]x[/]"


@pytest.mark.parametrize("command", [["runs"], ["show", "RUN"], ["runs", "--tag", "nope"]])
def test_cli_prints_no_control_bytes_and_markup_literally(
    store: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    run_id = hostile_run(store)
    argv = [run_id if a == "RUN" else a for a in command]
    assert main([*argv, "--root", str(store)]) == 0
    out = capsys.readouterr().out
    assert not CONTROL_BYTES.search(out), repr(out)
    if command[0] == "runs" and len(command) == 1:
        for field in ("name", "tag", "group", "loss", "extra"):
            assert f"{field}{SHOWN}" in out, field
    if command[0] == "show":
        for field in ("name", "notes", "group", "job", "host", "cmd", "loss", "k", "extra"):
            assert f"{field}{SHOWN}" in out, field
        assert out.count("[red]x[/]") >= 9  # markup shown as typed, not as red


def test_cli_json_output_escapes_controls(store: Path, capsys) -> None:
    hostile_run(store)
    assert main(["runs", "--json", "--root", str(store)]) == 0
    out = capsys.readouterr().out
    assert not CONTROL_BYTES.search(out)
    assert json.loads(out)[0]["name"] == f"name{HOSTILE}"  # the data itself is intact


def _middle_cut_of(whole: str, shown: str) -> bool:
    head, cut, tail = shown.partition("…")
    return bool(cut and head and tail) and whole.startswith(head) and whole.endswith(tail)


def plain(renderable: object) -> str:
    return getattr(renderable, "plain", None) or str(renderable)


async def test_tui_shows_hostile_text_literally_without_control_bytes(store: Path) -> None:
    hostile_run(store)
    app = FlightlogApp(store)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(RunsTable)
        await settle(pilot, lambda: table.row_count == 1)
        cells = [plain(c) for c in table.get_row_at(0)]
        shown = " ".join(cells)
        assert not CONTROL_BYTES.search(shown), repr(shown)
        assert f"name{SHOWN}" in cells and f"tag{SHOWN}" in cells
        await pilot.press("enter")
        await settle(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
        )
        page = app.screen
        await settle(pilot, lambda: page.query("MetricChart"))
        texts = [plain(page.query_one("#overview").render())]
        metrics = page.query_one("#metrics")
        texts += [plain(c) for i in range(metrics.row_count) for c in metrics.get_row_at(i)]
        texts += [plain(n.label) for n in page.query_one("#config").root.children]
        texts += [plain(c.border_title) for c in page.query("MetricChart")]
        for text in texts:
            assert not CONTROL_BYTES.search(text), repr(text)
        every = "\n".join(texts)
        for field in ("name", "group", "job", "host", "cmd", "loss", "k", "extra"):
            # whole, or cut in its middle where the metric table has no room for it
            assert f"{field}{SHOWN}" in every or any(
                _middle_cut_of(f"{field}{SHOWN}", t) for t in texts
            ), field
        screen_text = app.export_screenshot()
        assert "\x1b" not in screen_text and "\x07" not in screen_text
