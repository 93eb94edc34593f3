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

Elsewhere flightlog asks the terminal itself (`ask_terminal`), and textual-image is imported
seeing no terminal: textual-image waits 0.1 s for each reply, and a reply later than that (an
ssh link with a long round trip, a loaded login node) reached the app as keystrokes once
Textual read the keys - the `?` of the device attributes opened the help screen. flightlog
sends its queries at once and reads up to the device attributes' reply, which every terminal
sends and sends last: whatever came late is read by then, none is left for the app.
"""

from __future__ import annotations

import os
import re
import select
import struct
import sys
import time
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


#: seconds to wait for the terminal's replies (one round trip: a slow link's is under 1 s)
REPLY_WAIT = 3.0
#: Kitty graphics (a query for an image id), the cell size in pixels, the device attributes
QUERIES = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[16t\x1b[c"
_ATTRIBUTES = re.compile(rb"\x1b\[\?([\d;]*)c")
_CELL = re.compile(rb"\x1b\[6;(\d+);(\d+)t")
_KITTY = b"\x1b_Gi=31;OK\x1b\\"


def ask_terminal(keys: int, screen: int, wait: float = REPLY_WAIT) -> bytes:
    """The terminal's replies (read from `keys`) to QUERIES (written to `screen`), read up to
    the device attributes' (b"" if none came within `wait`), echo and line editing off."""
    import termios
    import tty

    saved = termios.tcgetattr(keys)
    replies = b""
    try:
        tty.setcbreak(keys, termios.TCSANOW)
        os.write(screen, QUERIES)
        deadline = time.monotonic() + wait
        while not _ATTRIBUTES.search(replies):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([keys], [], [], left)[0]:
                return b""
            replies += os.read(keys, 1024)
    finally:
        termios.tcsetattr(keys, termios.TCSADRAIN, saved)
    return replies


def cell_size(fd: int, replies: bytes) -> tuple[int, int]:
    """A cell's width and height in pixels: the terminal's window size, else its reply to
    the cell-size query, else VT340's (textual-image's order)."""
    import fcntl
    import termios

    rows, cols, width, height = struct.unpack(
        "HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    )
    if rows and cols and width and height:
        return width // cols, height // rows
    found = _CELL.search(replies)
    return (int(found[2]), int(found[1])) if found else (10, 20)


def image_widget_class() -> type:
    """The widget class for images in this terminal (imports textual-image once)."""
    if multiplexed() or unsized():
        with _no_terminal_probe():
            from textual_image.widget import HalfcellImage
        return HalfcellImage
    stdin, stdout = sys.__stdin__, sys.__stdout__
    if sys.platform == "win32" or not (stdin and stdout and stdin.isatty() and stdout.isatty()):
        from textual_image.widget import Image  # its own probe (none without a terminal)

        return Image
    replies = ask_terminal(stdin.fileno(), stdout.fileno())
    with _no_terminal_probe():  # the cell size is known before its import asks for it
        from textual_image import _terminal

        try:  # its private cache (textual-image 0.12): another version keeps its default
            size = _terminal.CellSize(*cell_size(stdout.fileno(), replies))
            _terminal.get_cell_size._result = size  # type: ignore[attr-defined]
        except AttributeError:
            pass
        from textual_image.widget import HalfcellImage, SixelImage, TGPImage

    attributes = _ATTRIBUTES.search(replies)
    if attributes and b"4" in attributes[1].split(b";"):
        return SixelImage  # first, as textual-image: Konsole and WezTerm answer both
    return TGPImage if _KITTY in replies else HalfcellImage


#: chosen when the TUI is imported, before the app takes the terminal over
ImageWidget = image_widget_class()
