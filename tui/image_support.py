"""The textual-image widget that draws logged images, chosen before Textual starts.

textual-image probes the terminal when it is imported: Sixel by a device-attributes query,
Kitty graphics by a graphics query, the cell size in pixels by another. Inside tmux or GNU
screen those replies are not all consumed: the multiplexer answers the Kitty query with its
device attributes, the probe gives up after two characters, and the rest ("?1;2;4c") reaches
the app as keystrokes (the `?` opened the help screen). Neither protocol passes a multiplexer
by default, so there flightlog skips the probe and draws Unicode half blocks, which work in
any terminal; elsewhere textual-image picks the best protocol itself. It skips the probe
too in a terminal that reports 0 columns or rows (a pty nobody sized: `ssh -tt` from a
script, a container's exec before its first resize): textual-image divides by them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def multiplexed(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Inside tmux or GNU screen."""
    term = environ.get("TERM", "")
    return bool(environ.get("TMUX")) or term.startswith(("screen", "tmux"))


@contextmanager
def _no_terminal_probe() -> Iterator[None]:
    """textual-image sees no terminal while it is imported, so it sends no query."""

    class NotATerminal:
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def isatty(self) -> bool:
            return False

        def __getattr__(self, name: str) -> Any:
            return getattr(self._stream, name)

    real = sys.__stdout__
    sys.__stdout__ = NotATerminal(real)  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stdout__ = real  # type: ignore[misc]


def unsized() -> bool:
    """The terminal reports 0 columns or rows (Textual then draws at 80x25)."""
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return False  # not a terminal: textual-image does not probe it
    return size.columns == 0 or size.lines == 0


def image_widget_class() -> type:
    """The widget class for images in this terminal (imports textual-image once)."""
    if multiplexed() or unsized():
        with _no_terminal_probe():
            from textual_image.widget import HalfcellImage
        return HalfcellImage
    # a terminal slow to answer the cell-size query (a loaded login node, a slow link: it
    # waits 0.1 s) makes textual-image log a warning with its traceback, printed over the
    # terminal before the app starts; its fallback (VT340 cell sizes) draws fine
    logging.getLogger("textual_image._terminal").setLevel(logging.ERROR)
    from textual_image.widget import Image

    return Image


#: chosen when the TUI is imported, before the app takes the terminal over
ImageWidget = image_widget_class()
