"""The TUI in a real terminal: `flightlog tui` inside a detached tmux session, read back with
`capture-pane`, for what only a real terminal shows (the half-block image fallback, keys)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class Tmux:
    """A tmux session running the TUI: its screen as text, keys typed into it."""

    def __init__(self, session: str) -> None:
        self.session = session

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True, text=True
        ).stdout

    def wait_for(
        self, found: str | Callable[[str], bool], what: str | None = None, timeout: float = 60
    ) -> str:
        """The screen once it shows `found` (a text, or a test of the whole screen)."""
        test = found if callable(found) else (lambda out: found in out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.screen()
            if test(out):
                return out
            time.sleep(0.2)
        raise AssertionError(f"{what or repr(found)} never appeared:\n{self.screen()}")

    def keys(self, *typed: str, pause: float = 0.5) -> None:
        """Type, a key (or a string) at a time, as a person does: focus moves first."""
        for k in typed:
            subprocess.run(["tmux", "send-keys", "-t", self.session, k], check=True)
            time.sleep(pause)

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "has-session", "-t", self.session], capture_output=True
            ).returncode
            == 0
        )

    def wait_closed(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.2)
        return not self.alive()


@contextmanager
def tui_in_tmux(store: Path, size: tuple[int, int] = (80, 24)) -> Iterator[Tmux]:
    """`flightlog tui STORE` in a fresh tmux session of `size`, killed on the way out."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"flightlog-tui-{os.getpid()}-{time.monotonic_ns()}"
    # COLUMNS/LINES (set under pytest) would override the window's size for Textual. A tmux
    # server already running (any other session) starts the command with its own environment,
    # not the test's: the test's FLIGHTLOG_ variables (its config dir) are passed explicitly,
    # else the TUI read the user's real layout file and pane keys hid panes already shown.
    ours = [f"{k}={v}" for k, v in os.environ.items() if k.startswith("FLIGHTLOG_")]
    tui = [sys.executable, "-m", "flightlog.cli", "tui", str(store)]
    cmd = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *ours, *tui])
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), cmd],
        check=True,
    )
    try:
        yield Tmux(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
