"""Stand-ins for wandb's media types (`Image`, `Table`, ...) until flightlog stores media
(a separate issue).

Training code builds these objects through frameworks (Lightning's `log_image`/`log_table`,
HF's `WANDB_LOG_MODEL`), so constructing one must work. Logging one is not stored yet: `log()`
leaves that key out of the row, says so once per type, and keeps every other value of the row.
"""

from __future__ import annotations

import warnings
from typing import Any

_warned: set[str] = set()


class Media:
    """A wandb media value: its constructor arguments are kept, nothing is stored yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"<flightlog {type(self).__name__} (not stored yet)>"


class Image(Media):
    pass


class Table(Media):
    def __init__(self, columns: Any = None, data: Any = None, **kwargs: Any) -> None:
        super().__init__(columns=columns, data=data, **kwargs)
        self.columns = list(columns or [])
        self.data = [list(r) for r in data or []]

    def add_data(self, *row: Any) -> None:
        self.data.append(list(row))


class Audio(Media):
    pass


class Video(Media):
    pass


class Html(Media):
    pass


class Object3D(Media):
    pass


class Molecule(Media):
    pass


class Plotly(Media):
    pass


def is_media(value: Any) -> bool:
    """A media value, or a non-empty list of them (Lightning logs `[Image, Image]`)."""
    if isinstance(value, Media):
        return True
    return (
        isinstance(value, list | tuple) and bool(value) and all(isinstance(v, Media) for v in value)
    )


def skipped(key: str, value: Any) -> None:
    """Say once per media type that a logged value of it was left out of the row."""
    kind = type(value[0] if isinstance(value, list | tuple) else value).__name__
    if kind not in _warned:
        _warned.add(kind)
        warnings.warn(
            f"flightlog: {kind} values are not stored yet: {key!r} (and later {kind} values) "
            "are left out of the logged rows; every other value is kept",
            RuntimeWarning,
            stacklevel=5,
        )
