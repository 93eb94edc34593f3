"""The terminal UI opens a run in a terminal that reports no size (a pty nobody sized:
`ssh -tt` from a script, a container's exec before its first resize).

Found by the breaker session: Textual draws such a terminal at 80x25, but opening a run
imported textual-image, which divides the terminal's pixel size by its columns: a
ZeroDivisionError traceback, and the UI was gone."""

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

import flightlog

ANSI = re.compile(r"\x1b(\[[0-9;?]*[a-zA-Z]|\][^\x07\x1b]*(\x07|\x1b\\)|_[^\x1b]*\x1b\\)")


class Pty:
    """`flightlog tui ROOT` on a real pseudo-terminal of `rows` x `cols` (0 x 0: unsized)."""

    def __init__(self, root: Path, rows: int, cols: int) -> None:
        self.fd, child = os.openpty()
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "tui", str(root)],
            stdin=child,
            stdout=child,
            stderr=child,
            env={**os.environ, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(child)
        self.out = b""

    def text(self) -> str:
        """What the UI wrote so far, escape sequences taken out."""
        return " ".join(ANSI.sub(" ", self.out.decode("utf-8", "replace")).split())

    def wait_for(self, found: str, timeout: float = 60, since: int = 0) -> None:
        """Until the UI wrote `found` after the first `since` characters of `text()`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found in self.text()[since:] or "Traceback" in self.text():
                return
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.out += os.read(self.fd, 1 << 16)
                except OSError:  # the UI ended: nothing more to read
                    return
        raise AssertionError(f"{found!r} never appeared: {self.text()[-2000:]}")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> int | None:
        """Quit: `q` backs out to the runs screen, `q` there quits."""
        since = len(self.text())
        self.type(b"q")
        self.wait_for("sorted by", since=since)
        self.type(b"q")
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        finally:
            os.close(self.fd)


def test_opening_a_run_in_an_unsized_terminal(store: Path) -> None:
    run = flightlog.init(project="p", name="sizeless-run")
    for i in range(20):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish(quiet=True)
    ui = Pty(store, 0, 0)
    try:
        ui.wait_for("sizeless-run")
        ui.type(b"\r")  # open the run
        ui.wait_for("metric last min max")
        assert "Traceback" not in ui.text(), ui.text()[-3000:]
    finally:
        code = ui.close()
    assert "ZeroDivisionError" not in ui.text()
    assert code == 0
