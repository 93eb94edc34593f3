"""The terminal UI on a real pseudo-terminal, outside tmux (the other terminal tests run in
tmux, where textual-image's terminal probe is skipped): opening a run works in a terminal
that answers queries as xterm, GNOME Terminal or iTerm2 do, and in one that reports no size.

Found by the breaker session. textual-image probes the terminal when it is imported, and
the run screen imported it only when the first run was opened, with Textual already reading
the keys: the terminal's answer to the device-attributes query (ESC [ ? 62 ; 4 c) reached
the app as keystrokes, and its `?` opened the help screen over the run. In a terminal that
reports 0 columns (a pty nobody sized: `ssh -tt` from a script, a container's exec before
its first resize) the probe divided by them: a ZeroDivisionError traceback, the UI gone."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

import flightlog

ANSI = re.compile(r"\x1b(\[[0-9;?]*[a-zA-Z]|\][^\x07\x1b]*(\x07|\x1b\\)|_[^\x1b]*\x1b\\)")
#: what xterm (with Sixel) answers: device attributes, then the cell size in pixels
XTERM = {b"\x1b[c": b"\x1b[?62;4c", b"\x1b[16t": b"\x1b[6;16;8t"}


class Pty:
    """`flightlog tui ROOT` on a real pseudo-terminal of `rows` x `cols` (0 x 0: unsized)
    that answers the queries in `answers` as a terminal does, `late` seconds after each
    (a slow ssh link)."""

    def __init__(
        self,
        root: Path,
        rows: int,
        cols: int,
        answers: dict[bytes, bytes] | None = None,
        python: tuple[str, ...] = ("-m", "flightlog.cli"),
        late: float = 0.0,
    ) -> None:
        self.fd, child = os.openpty()
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, *python, "tui", str(root)],
            stdin=child,
            stdout=child,
            stderr=child,
            env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(child)
        self.out = b""
        self.answers = answers or {}
        self.asked = 0  # how far the queries in `out` were answered
        self.late = late

    def text(self) -> str:
        """What the UI wrote so far, escape sequences taken out."""
        return " ".join(ANSI.sub(" ", self.out.decode("utf-8", "replace")).split())

    def _read(self) -> bool:
        ready, _, _ = select.select([self.fd], [], [], 0.2)
        if ready:
            try:
                self.out += os.read(self.fd, 1 << 16)
            except OSError:  # the UI ended: nothing more to read
                return False
        replies = []  # in the order asked, as a terminal answers
        while hits := [(i, q) for q in self.answers if (i := self.out.find(q, self.asked)) >= 0]:
            at, query = min(hits)
            replies.append(self.answers[query])
            self.asked = at + len(query)
        if replies:
            time.sleep(self.late)  # a round trip: the replies come together
            os.write(self.fd, b"".join(replies))
        return True

    def wait_for(self, found: str, timeout: float = 60, since: int = 0) -> None:
        """Until the UI wrote `found` after the first `since` characters of `text()`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found in self.text()[since:] or "Traceback" in self.text():
                return
            if not self._read():
                return
        raise AssertionError(f"{found!r} never appeared: {self.text()[-2000:]}")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> int | None:
        """Quit: `q` backs out to the runs screen, `q` there quits. The exit code, or None
        when it did not quit (then it is killed: a failed test leaves no UI running)."""
        try:
            since = len(self.text())
            self.type(b"q")
            self.wait_for("sorted by", since=since)
            self.type(b"q")
            deadline = time.monotonic() + 120
            while self.proc.poll() is None and time.monotonic() < deadline:
                if not self._read():  # a terminal reads on: a full pty holds a write up
                    time.sleep(0.05)
            return self.proc.poll()
        except (AssertionError, OSError):
            return None
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.fd)


@pytest.mark.parametrize(
    ("rows", "cols", "answers"),
    [(0, 0, None), (30, 100, XTERM)],
    ids=["unsized", "xterm-answers"],
)
def test_opening_a_run_in_a_real_terminal(
    store: Path, rows: int, cols: int, answers: dict[bytes, bytes] | None
) -> None:
    log_a_run()
    open_a_run(Pty(store, rows, cols, answers))


def test_a_terminal_answering_late_types_no_keys(store: Path) -> None:
    """A terminal that answers the image probes a second late (ssh over a slow link, a
    loaded login node): the replies reached the app as keystrokes once textual-image had
    given up waiting (0.1 s), and the `?` of the device attributes opened the help screen
    over the runs list; enter then never opened the run."""
    log_a_run()
    open_a_run(Pty(store, 30, 100, XTERM, late=1.0))


def log_a_run() -> None:
    run = flightlog.init(project="p", name="terminal-run")
    for i in range(20):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish(quiet=True)


def open_a_run(ui: Pty) -> None:
    """The run opened in `ui` (the run screen and nothing over it: no help screen opened by
    a stray `?`, ever), then q q quits with 0."""
    try:
        ui.wait_for("terminal-run")
        since = len(ui.text())
        ui.type(b"\r")  # open the run
        ui.wait_for("metric last min max", since=since)
        ui.wait_for("esc Back", since=since)
        assert "Traceback" not in ui.text(), ui.text()[-3000:]
        assert "flightlog keys" not in ui.text(), ui.text()[-3000:]
    finally:
        code = ui.close()
    assert "ZeroDivisionError" not in ui.text()
    assert code == 0


#: `flightlog tui` with a defect planted in the UI: opening a run raises
CRASHING_UI = """
import sys
from flightlog.cli import main
import flightlog.tui.run_screen as run_screen

def broken(*args):
    raise RuntimeError("a defect in the UI")

run_screen.RunScreen = broken
sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_in_the_ui_is_a_failed_exit(store: Path) -> None:
    """A UI that crashed exits non-zero (it exited 0: `cmd_tui` ignored the app's return
    code, so `flightlog tui && next-step` and an ssh session's status said it went fine)."""
    run = flightlog.init(project="p", name="crash-run")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    ui = Pty(store, 30, 100, python=("-c", CRASHING_UI))
    try:
        ui.wait_for("crash-run")
        ui.type(b"\r")  # open the run: the planted defect raises
        code = ui.proc.wait(timeout=60)
        while ui._read():  # the rest of what it wrote, up to the pty's end
            pass
    finally:
        if ui.proc.poll() is None:
            ui.proc.kill()
        os.close(ui.fd)
    assert "RuntimeError" in ui.text()  # Textual's traceback
    assert code == 1
