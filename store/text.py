"""Plain-text rendering of stored values, shared by the CLI and the terminal UI.

Everything shown comes from run files that anyone may have written (on a server store,
another user's upload), so no stored text reaches a terminal raw: `safe()` makes control
characters visible as escapes and `fmt()` applies it to every cell.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"

#: C0 and C1 controls, DEL, and the bidirectional overrides/isolates that reorder what a
#: terminal shows (a name can otherwise clear the screen, retitle the window, hide or fake text)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE_OK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(c) or (
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    )


def safe(text: Any, *, newlines: bool = False) -> str:
    """`text` as a string with every control character shown as an escape (ESC -> `\\x1b`);
    `newlines=True` keeps line breaks and tabs (notes, tracebacks shown as blocks)."""
    s = text if type(text) is str else str(text)
    return (_CONTROL_OR_NEWLINE_OK if newlines else CONTROL).sub(_escape, s)


#: the longest cell `fmt` makes: a table pads every row of a column to its widest cell, so
#: one generated text logged as a metric made every line of `show` that wide (10 MB each);
#: long enough for a cluster's data paths in a config
CELL_CHARS = 200


def fmt(v: Any) -> str:
    """A value as a short, terminal-safe cell: 4 significant digits, lists comma-joined, None
    empty, control characters escaped, text cut to CELL_CHARS with an ellipsis."""
    if v is None:
        return ""
    if isinstance(v, float):
        return str(v) if math.isnan(v) or math.isinf(v) else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return short(",".join(str(x) for x in v))
    return short(v)


def short(text: Any) -> str:
    """`safe(text)` cut to CELL_CHARS (escapes counted as shown), with an ellipsis."""
    s = text if type(text) is str else str(text)
    cut = safe(s[: CELL_CHARS + 1])  # a long text is escaped only as far as it is shown
    return cut if len(cut) <= CELL_CHARS and len(s) <= CELL_CHARS else cut[: CELL_CHARS - 1] + "…"


def fmt_value(v: Any) -> str:
    """A config value as written in Python: `None` shown as such, not as an empty cell."""
    return "None" if v is None else fmt(v)


def fmt_time(ts: float | None) -> str:
    """Epoch seconds as local "YYYY-MM-DD HH:MM"."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def fmt_duration(seconds: float | None) -> str:
    """12.3s, 4m05s, 2h07m."""
    if seconds is None or seconds < 0:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line chart of `values` (e.g. downsample()'s vlast); gaps for NaN/None."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    return "".join(
        " "
        if v is None or not math.isfinite(v)
        else SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * len(SPARKS)))]
        for v in values
    )


def metric_cells(stat: dict[str, Any]) -> list[str]:
    """One metric_summaries() entry as table cells: key, last, min, max, n, sparkline
    (a string metric's last value is its text)."""
    last = fmt(stat["last"]) if stat["last"] is not None else short(stat["last_text"] or "")
    return [
        safe(stat["key"]),
        last,
        fmt(stat["min"]),
        fmt(stat["max"]),
        str(stat["n"]),
        stat.get("spark", ""),
    ]


#: a name cut by `middle_cut` keeps at least this many cells, however narrow the screen
MIN_CUT = 16


def middle_cut(name: str, width: int, cell_len: Callable[[str], int] = len) -> str:
    """`name` in `width` cells at most (as `cell_len` measures them: the UI's wide
    characters): its start, "…", and its end (the longer part). A long metric name's end
    tells it from its siblings."""
    if cell_len(name) <= width:
        return name
    tail_room = (width - 1) * 2 // 3
    tail = ""
    for ch in reversed(name):
        if cell_len(ch + tail) > tail_room:
            break
        tail = ch + tail
    head = ""
    for ch in name:
        if cell_len(head + ch) + 1 + cell_len(tail) > width:
            break
        head += ch
    return f"{head}…{tail}"
