"""The workspace layout each user keeps: visible panes, chart grid, x axis and smoothing.

One small JSON file in the user's config dir (platformdirs, or FLIGHTLOG_CONFIG_DIR), one
section per screen ("run", "compare"), rewritten whole and atomically on every change, so a
crash mid-write leaves the previous layout. A file that is not valid JSON, or a field of the
wrong type, is ignored (the defaults are used) and said once per file: a layout is a
convenience, never a reason for the UI to fail.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from flightlog._user_config import config_dir
from flightlog.store.atomic import atomic_write_json

FILE_NAME = "tui-layout.json"
_told: set[Path] = set()  # files whose damage was already reported in this process


@dataclass
class Layout:
    """What a screen remembers. `panes` is ordered most recently shown first: when the
    terminal is too small for all of them, the ones at the end are hidden first."""

    panes: list[str] = field(default_factory=list)
    columns: int = 1
    rows: int = 0  # charts per column that fill the pane's height; 0: fixed-height charts
    x_axis: str = "step"  # "step", "time" or "metric:KEY"
    smoothing: int = 0  # index into the screen's smoothing weights
    log_y: bool = False


def layout_path() -> Path:
    return config_dir() / FILE_NAME


def _read_all(path: Path) -> tuple[dict[str, Any], str | None]:
    """(the file's sections, a complaint if it was unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        return {}, f"cannot read {path} ({e.strerror}): using the default layout"
    try:
        doc = json.loads(text)
    except ValueError as e:
        return {}, f"{path} is not valid JSON ({e}): using the default layout"
    if not isinstance(doc, dict):
        return {}, f"{path} holds no JSON object: using the default layout"
    return doc, None


def load_layout(screen: str, default: Layout) -> tuple[Layout, str | None]:
    """The layout saved for `screen` (fields missing or of the wrong type take `default`'s),
    and a notice to show the user the first time a damaged file is met."""
    path = layout_path()
    doc, problem = _read_all(path)
    section = doc.get(screen)
    out = Layout(**asdict(default))
    if isinstance(section, dict):
        for f in fields(Layout):
            value = section.get(f.name)
            want = type(getattr(default, f.name))
            if isinstance(value, want) and not (want is int and isinstance(value, bool)):
                if want is list and not all(isinstance(v, str) for v in value):
                    continue
                setattr(out, f.name, value)
    elif section is not None:
        problem = problem or f"{path}: the {screen!r} layout is not an object: using the default"
    if problem is None or path in _told:
        return out, None
    _told.add(path)
    return out, problem


def save_layout(screen: str, layout: Layout) -> str | None:
    """Write `screen`'s section, keeping the other screens' (an error message, or None)."""
    path = layout_path()
    doc, _ = _read_all(path)
    doc[screen] = asdict(layout)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, doc, durable=False)
    except OSError as e:
        return f"the layout was not saved to {path}: {e.strerror or e}"
    _told.discard(path)  # a good file again: a later damage is news
    return None
