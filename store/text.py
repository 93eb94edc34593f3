"""Plain-text rendering of stored values, shared by the CLI and the terminal UI."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

SPARKS = "▁▂▃▄▅▆▇█"


def fmt(v: Any) -> str:
    """A value as a short cell: 4 significant digits, lists comma-joined, None empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return str(v) if math.isnan(v) or math.isinf(v) else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


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
    last = fmt(stat["last"]) if stat["last"] is not None else (stat["last_text"] or "")
    return [
        stat["key"],
        last,
        fmt(stat["min"]),
        fmt(stat["max"]),
        str(stat["n"]),
        stat.get("spark", ""),
    ]
