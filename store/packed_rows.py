"""Journal rows that cannot take the fast path: JSON of their tidy values, histograms packed.

A row of plain float/int/bool values goes into the journal as float64 words (store/rows.py);
any other row as JSON of its tidy values (key, value, kind, text). A histogram's text there
cost `log()` ~40 µs: its 129 numbers printed, then that text escaped again inside the row's
JSON. A row holding histograms is therefore stored as a PACKED row: one word giving the JSON's
length, the JSON (each histogram's entry holds its number of counts where its text goes), then
each histogram's bins as float64 words and counts as int64 words, in the entries' order. The
writer thread (and recovery) prints the text, the very text `encode_value` would have printed:
a float64 or int64 read back is the same Python float or int, which prints the same.

Versions before PACKED rows (c3a9f72 and older) skip rows of a kind they do not know while
their mark covers them: an old `doctor --repair`, resume or sync agent taking over a killed
writer's journal would seal it without its histograms and remove it, in silence. So a journal
holds NEEDS_PACKED before its first PACKED row: a DEFINE row whose "sid" is a sentence. Their
`int(d["sid"])` fails on it, they refuse the journal as damaged, naming that sentence, and
leave it on disk for this version, which skips it (`table_from_defines`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from .journal import GENERIC, PACKED
from .schema import HIST, encode_value

_LEN = struct.Struct("<q")
#: seconds of printing PACKED rows after which the writer thread pauses (hands the GIL back,
#: store/rowlog.py): a 64-bin histogram's text takes it ~15-30 µs with the GIL held, and a
#: log() waiting for the GIL waits as long. Eight at a stretch (120-240 µs) were the longest
#: GIL holds of a mixed-row loop's writer, one log() call over 50 µs each when they fell in
#: one; now a stretch prints about one
PRINT_SLICE = 20e-6
#: values that are never histograms (checked before asking a value to pack itself)
_PLAIN = frozenset({float, int, bool, str, type(None), list})
#: values a split row's plain part may hold (the fast path's kinds)
_FAST = frozenset({float, int, bool})
#: the start of a split row's PACKED data, by its histograms' keys and numbers of counts
_HEADS: dict[tuple[tuple[str, int], ...], bytes] = {}
#: the DEFINE row before a journal's first PACKED row (see the module's docstring)
NEEDS_PACKED = json.dumps(
    {
        "sid": "this journal holds rows only a newer flightlog reads (packed histograms): "
        "upgrade flightlog, then run `flightlog doctor --repair`; keep this file until then",
        "needs": ["packed"],
    }
).encode()


def needs_read_here(define: Any) -> bool:
    """Whether a journal's DEFINE entry is NEEDS_PACKED (to skip) rather than a signature."""
    return type(define) is dict and define.get("needs") == ["packed"]


def journal_blob(row: dict[str, Any]) -> tuple[int, bytes]:
    """(sid code, data) of a row for the journal: GENERIC JSON, or PACKED with histograms."""
    entries: list[list[Any]] = []
    packed: list[bytes] = []
    for k, v in row.items():
        packs = _packs(v)
        if packs is None:
            entries.append([k, *encode_value(v)])
        else:
            entries.append([k, None, HIST, packs[0]])
            packed.append(packs[1])
    if not packed:
        return GENERIC, json.dumps(entries).encode()
    return PACKED, b"".join([_head(entries), *packed])


def split_histograms(row: dict[str, Any]) -> tuple[dict[str, Any], bytes] | None:
    """(the row's leading float/int/bool values, PACKED data of the histograms after them)
    for a row of plain numbers followed by histograms only (a training loop's metrics with
    a histogram every N steps), else None. The numbers then take the fast path as float64
    words (store/rows.py) and only the histograms go as PACKED: printing the numbers' JSON
    was half of such a row's `log()`. Only a row whose histograms come last is split, so the
    two journal rows keep the row's order of values."""
    plain: dict[str, Any] = {}
    histograms: list[tuple[str, Callable[[], tuple[int, bytes]]]] = []
    for k, v in row.items():
        if not histograms and type(v) in _FAST:
            plain[k] = v
            continue
        words = _words_of(v)
        if words is None:
            return None
        histograms.append((k, words))
    if not plain or not histograms:
        return None  # (told before packing any: the row is then packed once, as a whole)
    heads: list[tuple[str, int]] = []  # (key, number of counts) per histogram
    packed: list[bytes] = []
    for k, words in histograms:
        n, data = words()
        heads.append((k, n))
        packed.append(data)
    key = tuple(heads)
    head = _HEADS.get(key)
    if head is None:  # the same few histograms come back row after row
        head = _head([[k, None, HIST, n] for k, n in heads])
        if len(_HEADS) < 1024:
            _HEADS[key] = head
    return plain, b"".join([head, *packed])


def _packs(v: Any) -> tuple[int, bytes] | None:
    """A flightlog.Histogram's `journal_words`, or None for any other value."""
    words = _words_of(v)
    return words() if words is not None else None


def _words_of(v: Any) -> Callable[[], tuple[int, bytes]] | None:
    """A flightlog.Histogram's `journal_words` method, or None for any other value."""
    return None if type(v) in _PLAIN else getattr(v, "journal_words", None)


def _head(entries: list[list[Any]]) -> bytes:
    """A PACKED row's start: the JSON's length, then the JSON padded to whole words."""
    head = json.dumps(entries).encode()
    head += b" " * (-len(head) % 8)
    return _LEN.pack(len(head)) + head


def tidy_values(sid: int, blob: bytes) -> list[list[Any]]:
    """The [key, value, kind, text] entries of a GENERIC or PACKED row's data. Raises
    ValueError (or KeyError, TypeError, IndexError) on data that does not hold together."""
    if sid == GENERIC:
        return json.loads(blob)  # type: ignore[no-any-return]
    if len(blob) < 8:
        raise ValueError("a packed journal row is too short")
    (n,) = _LEN.unpack_from(blob)
    entries = json.loads(blob[8 : 8 + n])
    at = 8 + n
    for e in entries:
        if e[2] == HIST and type(e[3]) is int:
            c = e[3]
            if c < 0:  # np.frombuffer would read count -1 as "all the rest"
                raise ValueError("a packed histogram with a negative number of counts")
            bins = np.frombuffer(blob, np.float64, c + 1, at).tolist()
            at += 8 * (c + 1)
            counts = np.frombuffer(blob, np.int64, c, at).tolist()
            at += 8 * c
            e[3] = json.dumps({"_type": "histogram", "bins": bins, "counts": counts})
    if at != len(blob):
        raise ValueError("a packed journal row's words do not match its histograms")
    return entries  # type: ignore[no-any-return]
