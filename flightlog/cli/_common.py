"""Helpers shared by the commands: the store root, the index, formatting."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flightlog.store.text import (
    MIN_CUT,
    fmt,
    fmt_duration,
    fmt_time,
    fmt_value,
    middle_cut,
    safe,
)

if TYPE_CHECKING:  # (rich: loaded by the commands that print through it, not by `runs`)
    from rich.console import Console

__all__ = [
    "console",
    "fmt",
    "fmt_duration",
    "fmt_time",
    "fmt_value",
    "open_index",
    "positive_int",
    "print_table",
    "root",
    "safe",
]


def root(args: argparse.Namespace) -> Path:
    if getattr(args, "root", None):
        return Path(args.root)
    from flightlog._settings import resolve, root_of

    return root_of(resolve({}, None))


def positive_int(text: str) -> int:
    """An argparse type: a count of 1 or more (argparse says which option and value)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not 1 or more")
    return n


def store_root(args: argparse.Namespace) -> Path:
    """The store `args` names; an error naming the fix when there is none (a mistyped
    --root must not read as an empty store)."""
    r = root(args)
    if not (r / "runs").is_dir():
        raise FileNotFoundError(
            f"no flightlog store at {r}: pass --root DIR or set FLIGHTLOG_DIR "
            "(a store is the directory that holds runs/)"
        )
    return r


def open_index(args: argparse.Namespace, lazy: bool = False):
    from flightlog.store.index import Index

    r = store_root(args)
    return Index(r, progress=index_progress if sys.stderr.isatty() else None, lazy=lazy)


def index_progress(done: int, total: int) -> None:
    """A first build of a big store takes seconds (10,000 runs: ~10 s): how far it got, on
    the terminal's stderr (stdout is the answer). Ctrl-C stops it; what it built is kept."""
    if total < 200 or (done % 100 and done != total):
        return
    line = f"indexing runs: {done:,} of {total:,} (Ctrl-C stops; what is indexed is kept)"
    print("\r\x1b[K" + (line if done < total else ""), end="", file=sys.stderr, flush=True)


def console() -> Console:
    from rich.console import Console

    # piped output gets the full width: never truncate names or ids
    return Console(width=None if sys.stdout.isatty() else 1000, highlight=False)


def _width() -> int | None:
    """The terminal's columns, or COLUMNS when set; None into a pipe without COLUMNS, where
    a script reading the output gets every name whole."""
    import shutil

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return shutil.get_terminal_size().columns
    return None


def print_table(
    headers: list[str],
    rows: list[list[str]],
    right: set[int] = frozenset(),  # type: ignore[assignment]
    title: str | None = None,
    shrink: int | None = None,
) -> None:
    """Aligned columns, two spaces apart; the header bold on a terminal (not with NO_COLOR).
    Every cell is passed through `safe()`: stored text never reaches the terminal raw.
    Column `shrink`'s cells are cut in the middle where the lines would pass the terminal's
    width (`_width`): one 300-character metric name pushed every value off screen.

    Hand-rolled because rich's table layout takes ~2 s for 1,000 runs; this takes ~10 ms.
    """
    headers = [safe(h) for h in headers]
    rows = [[safe(c) for c in r] for r in rows]
    title = safe(title) if title else title
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    used = sum(widths) + 2 * (len(widths) - 1)  # a line's width, the columns two apart
    if shrink is not None and (room := _width()) and used > room:
        widths[shrink] = max(len(headers[shrink]), MIN_CUT, room - (used - widths[shrink]))
        for r in rows:
            r[shrink] = middle_cut(r[shrink], widths[shrink])

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    out = []
    if title:
        out.append(f"\033[1m{title}\033[0m" if bold else title)
    head = line(headers)
    out.append(f"\033[1m{head}\033[0m" if bold else head)
    out.extend(line(r) for r in rows)
    sys.stdout.write("\n".join(out) + "\n")
