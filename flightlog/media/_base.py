"""What every media type shares, and how `log()` turns one into a value of its row.

A media object copies what it needs when it is built (an array, a file's bytes, a rendered
figure: never a reference to a tensor training will overwrite) and checks it cheaply. It does
not raise on bad input: it records a `problem`, and `log()` warns once naming the key and
keeps the rest of the row (a training script is never crashed by the tracker). Encoding
(PNG, Parquet, WAV, GIF) and storing happen in `encode`, called on the writer side.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from flightlog.store.media_ref import MediaValue

from ._sink import MediaSink


class Media:
    """Base class of `Image`, `Table`, `Audio`, `Video`, `Html` and the plots."""

    _type: ClassVar[str] = ""
    caption: str | None = None
    #: why this value cannot be logged (None when it can)
    problem: str | None = None

    def nbytes(self) -> int:
        """Memory this value holds until it is encoded."""
        return 0

    def snapshot(self) -> Media:
        """What log() keeps of this value (a mutable one, a Table, is copied)."""
        return self

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        """Encode and store (writer side); return the reference for the history row."""
        raise NotImplementedError

    def _fields(self) -> dict[str, Any]:
        ref: dict[str, Any] = {"_type": self._type}
        if self.caption is not None:
            ref["caption"] = self.caption
        return ref

    def __repr__(self) -> str:
        state = f" ({self.problem})" if self.problem else ""
        return f"<flightlog {type(self).__name__}{state}>"


def check_caption(caption: Any) -> str | None:
    return None if caption is None else str(caption)


class MediaList(Media):
    """Several media logged under one key (`log({"samples": [Image(a), Image(b)]})`)."""

    _type = "images"

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)
        bad = next((m for m in self.items if not isinstance(m, Media)), None)
        if bad is not None:
            self.problem = (
                f"a list of media holds a {type(bad).__name__}: log only media objects in it"
            )
        else:
            self.problem = next((m.problem for m in self.items if m.problem), None)

    def nbytes(self) -> int:
        return sum(m.nbytes() for m in self.items)

    def snapshot(self) -> Media:
        return self if self.problem else MediaList([m.snapshot() for m in self.items])

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        refs = [m.encode(sink) for m in self.items]
        return {"_type": self._type, "count": len(refs), "items": refs}


class Pending(MediaValue):
    """A media value logged in a row: encoded once, by whichever asks first (the writer
    thread before it commits the reference, store/pending_media.py, or the run state's
    summary), then only its reference is kept. A disk that refuses the file (full for a
    moment) leaves the value pending, its copy held: the writer tries again at its next
    tick, as it does the row's other values, and marks it dropped only at close."""

    __slots__ = ("_lock", "_media", "_nbytes", "_ref", "_sink")

    def __init__(self, media: Media, sink: MediaSink, nbytes: int) -> None:
        self._media: Media | None = media
        self._sink = sink
        self._nbytes = nbytes
        self._ref: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def store(self, final: bool = False) -> str | None:
        with self._lock:
            if self._ref is not None:
                return None
            media = self._media
            assert media is not None
            try:
                self._ref = media.encode(self._sink)
                why = None
            except OSError as e:  # a full disk: kept for the next tick, unless `final`
                why = e.strerror or repr(e)
                if not final:
                    return why
                self._ref = {"_type": media._type, "dropped": f"could not store: {why}"}
            except Exception as e:  # never fail the writer: the row is kept, marked
                why = None
                self._ref = {"_type": media._type, "dropped": f"could not store: {e!r}"}
                self._sink.warn_once(
                    f"encode:{type(media).__name__}",
                    f"a {type(media).__name__} could not be stored ({e!r}); "
                    "its row is kept with a reference marked dropped",
                )
            self._media = None
            self._sink.release(self._nbytes)
            return why

    def reference(self) -> dict[str, Any]:
        """The stored reference; while the disk refuses the file, one saying so, not kept
        (the summary asking first must not make the drop final)."""
        why = self.store()
        if why is not None:
            kind = self._media._type if self._media else "media"
            return {"_type": kind, "dropped": f"not stored yet: {why}"}
        assert self._ref is not None
        return self._ref

    def __repr__(self) -> str:
        ref = self._ref
        if ref is None:
            return f"<{self._media._type if self._media else 'media'}>"
        size = f" {ref['width']}x{ref['height']}" if "width" in ref and "height" in ref else ""
        return f"<{ref['_type']}{size}{' dropped' if ref.get('dropped') else ''}>"


class Dropped(MediaValue):
    """A media value logged while the backlog was full: the row keeps this reference."""

    __slots__ = ("_ref",)

    def __init__(self, kind: str, why: str) -> None:
        self._ref = {"_type": kind, "dropped": why}

    def reference(self) -> dict[str, Any]:
        return self._ref


def is_media(value: Any) -> bool:
    """A media object, a list whose first item is one, or a matplotlib figure (or pyplot)."""
    if isinstance(value, Media):
        return True
    if type(value) in (list, tuple):
        return bool(value) and isinstance(value[0], Media)
    return (
        type(value).__module__.startswith("matplotlib")
        or getattr(value, "__name__", "") == "matplotlib.pyplot"
    )


def prepare(key: str, value: Any, sink: MediaSink) -> MediaValue | None:
    """The row value for a media `value` logged under `key` (training thread): a `Pending`
    holding the copy already taken, or None after one warning naming the key."""
    if isinstance(value, Media):
        media = value
    elif type(value) in (list, tuple):
        media = MediaList(value)
    else:
        from .image import Image

        media = Image(value)  # a matplotlib figure, rendered to PNG now
    media = media.snapshot()
    if media.problem:
        if sink.first(f"bad:{key}"):
            warnings.warn(
                f"flightlog: log() value for {key!r} is left out: {media.problem}. The rest of "
                "the row is kept (warned once per key)",
                RuntimeWarning,
                stacklevel=_script_level(),
            )
        return None
    nbytes = media.nbytes()
    if not sink.hold(nbytes):
        return Dropped(media._type, "media backlog full")
    return Pending(media, sink, nbytes)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script_level() -> int:
    """The warnings stacklevel of the first frame outside flightlog (the script's log())."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
