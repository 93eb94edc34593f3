"""`flightlog.Html`: an HTML string, a file path or an open file, stored as an .html file."""

from __future__ import annotations

import os
import re
from typing import Any

from ._base import Media
from ._sink import MediaSink


class Html(Media):
    """`flightlog.Html("<b>hi</b>")`, `flightlog.Html("report.html")` or an open file.

    `inject` (wandb adds its stylesheet) is accepted and ignored."""

    _type = "html-file"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        self.problem = None
        self._text = ""
        if hasattr(data, "read"):
            data = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str) and not data_is_not_path and _is_file(data)
        ):
            try:
                with open(data, "rb") as f:
                    data = _decoded(f.read())
            except OSError as e:
                self.problem = f"cannot read HTML file {os.fspath(data)!r}: {e}"
                return
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        if not isinstance(data, str):
            self.problem = f"Html takes a string, a path or a file, got {type(data).__name__}"
            return
        self._text = data

    def nbytes(self) -> int:
        return len(self._text)

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        ref = self._fields()
        ref["format"] = "html"
        return sink.put(self._text.encode("utf-8"), ref)


_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decoded(raw: bytes) -> str:
    """An HTML file's text: UTF-8, else the charset its head declares, else latin-1 (which
    reads any bytes; a report written by an older tool was left out for not being UTF-8)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(raw[:4096])
    if declared:
        try:
            return raw.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return raw.decode("latin-1")


def _is_file(text: str) -> bool:
    return len(text) < 4096 and "\n" not in text and "<" not in text and os.path.isfile(text)
