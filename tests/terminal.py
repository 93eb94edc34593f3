"""The terminal UI in a real terminal: a tmux session the test types into and reads back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class Tmux:
    """One detached tmux session running `flightlog tui STORE` at a given size."""

    def __init__(self, name: str) -> None:
        self.name = name

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, found: str | Callable[[str], bool], timeout: float = 60) -> str:
        """The screen once it shows `found` (a text, or a test of the whole screen)."""
        test = found if callable(found) else (lambda out: found in out)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.screen()
            if test(out):
                return out
            time.sleep(0.2)
        raise AssertionError(f"{found!r} never appeared:\n{self.screen()}")

    def keys(self, *typed: str, pause: float = 0.5) -> None:
        """Type, a key (or a string) at a time, as a person does: focus moves first."""
        for k in typed:
            subprocess.run(["tmux", "send-keys", "-t", self.name, k], check=True)
            time.sleep(pause)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name]).returncode == 0

    def wait_closed(self, timeout: float = 60) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline and self.alive():
            time.sleep(0.2)
        return not self.alive()


@contextmanager
def tui_in_tmux(store: Path, size: tuple[int, int] = (80, 24)) -> Iterator[Tmux]:
    """`flightlog tui STORE` in a new tmux session of `size`, killed on the way out."""
    name = f"flightlog-test-{os.getpid()}-{time.monotonic_ns()}"
    cmd = f"{sys.executable} -m flightlog.cli tui {store}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), cmd],
        check=True,
    )
    try:
        yield Tmux(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
