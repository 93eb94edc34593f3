"""Journal records past the header's commit word that prove whole: rows a reader keeps.

`log()` stores a row's data, then its 32-byte record, then the header's commit word
(store/journal.py). A kill -9 between the record and the commit store leaves one whole row
past the commit point (its `log()` had not returned). The full suite twice showed more: a
journal whose commit word was still 0, the value written when the file was created, while
its records held the 256 rows that `log()` had written there and returned from (and once the
last 20 rows of a paced run, one batch). Every other page of those files held what was
written; no code path that writes the word was found at fault, and 1,000 kill trials outside
the suite never showed it. Whatever loses that one word, the rows are on disk. So a reader
does not take the commit word as the end: it goes on past it for as long as each record
proves whole, and stops at the first that does not.

A record proves whole when its data ends after the previous record's, inside the data
region, and its data is what its kind must be: as many words as its signature has keys
(from the journal's DEFINE rows), or DEFINE, GENERIC or PACKED data that decodes to exactly
its length. A record slot past the commit point holds zeros until `log()` writes it: a
journal is never reused, `log()` writes a row's data before its record and the record's
`end` last, and the writer zeroes the slot after its last row when it commits at close or
rotation (so a row whose `log()` a KeyboardInterrupt cut short stays out, as it does for
the writer). A split row writes its second (PACKED) record before its first, so a first
record that proves whole has its histograms behind it.

This is the reading side only: nothing is written, and the rows are read where readers read
journal rows (store/rows.py `journal_tail`), sealed by recovery like any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from .journal import DEFINE, GENERIC, PACKED, REC_DTYPE
from .packed_rows import needs_read_here, tidy_values


def whole_past(records: bytes, read_data: Callable[[int], bytes], committed: int) -> int:
    """How many records after the first `committed` of `records` prove whole (0 almost
    always); `read_data(n)`: the first `n` bytes of the journal's data region."""
    recs = np.frombuffer(records, REC_DTYPE, count=len(records) // 32)
    unwritten = np.flatnonzero(recs["end"][committed:] == 0)  # (zeros until log() writes)
    candidates = (
        recs[committed : committed + int(unwritten[0])] if len(unwritten) else recs[committed:]
    )
    if not len(candidates):
        return 0
    data = read_data(8 * max(int(candidates["end"].max()), 0))
    widths = _widths(recs[:committed], data)
    end = int(recs["end"][committed - 1]) if committed else 0
    words = len(data) // 8
    kept = 0
    for _, _, sid, new_end in candidates.tolist():
        if not end < new_end <= words or not _whole(sid, data[8 * end : 8 * new_end], widths):
            break
        if sid == DEFINE:
            _define(data[8 * end : 8 * new_end], widths)
        end = new_end
        kept += 1
    return kept


def _whole(sid: int, blob: bytes, widths: dict[int, int]) -> bool:
    if sid >= 0:
        return widths.get(sid) == len(blob) // 8
    try:
        if sid == DEFINE:
            d = json.loads(blob)
            return needs_read_here(d) or (int(d["sid"]) >= 0 and type(d["keys"]) is list)
        if sid in (GENERIC, PACKED):
            return type(tidy_values(sid, blob)) is list
    except (ValueError, KeyError, TypeError, IndexError):
        pass
    return False


def _widths(recs: np.ndarray, data: bytes) -> dict[int, int]:
    """Each signature's number of values, from the committed DEFINE rows."""
    widths: dict[int, int] = {}
    ends = recs["end"]
    for i in np.flatnonzero(recs["sid"] == DEFINE).tolist():
        start = int(ends[i - 1]) if i else 0
        try:
            _define(data[8 * start : 8 * int(ends[i])], widths)
        except (ValueError, KeyError, TypeError):
            continue  # a damaged DEFINE: the committed rows' reader says so
    return widths


def _define(blob: bytes, widths: dict[int, int]) -> None:
    d: Any = json.loads(blob)
    if not needs_read_here(d):
        widths[int(d["sid"])] = len(d["keys"])
