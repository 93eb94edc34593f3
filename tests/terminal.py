"""The TUI in a real terminal: `flightlog tui` inside a detached tmux session, read back with
`capture-pane`, for what only a real terminal shows (the half-block image fallback, keys)."""

from __future__ import annotations

import os
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

    def wait_for(self, found: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        """The screen once `found(screen)` holds (polled up to `timeout` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.screen()
            if found(out):
                return out
            time.sleep(0.2)
        raise AssertionError(f"{what} never appeared:\n{self.screen()}")

    def keys(self, *typed: str) -> None:
        for k in typed:
            subprocess.run(["tmux", "send-keys", "-t", self.session, k], check=True)
            time.sleep(0.7)


@contextmanager
def tui_in_tmux(store: Path, size: tuple[int, int] = (100, 30)) -> Iterator[Tmux]:
    """`flightlog tui store` in a fresh tmux session, killed on the way out."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"flightlog-tui-{os.getpid()}-{time.monotonic_ns()}"
    # COLUMNS/LINES (set under pytest) would override the window's size for Textual
    cmd = f"env -u COLUMNS -u LINES {sys.executable} -m flightlog.cli tui {store}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), cmd],
        check=True,
    )
    try:
        yield Tmux(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
