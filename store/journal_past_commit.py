"""Journal records past the header's commit word that prove whole: rows a reader keeps.

`log()` stores a row's data, then its 32-byte record, then the header's commit word
(store/journal.py). A kill -9 between the record and the commit store leaves one whole row
past the commit point (its `log()` had not returned). Full test suites showed more, three
times: a journal whose commit word was still 0, the value written when the file was created,
while its records held rows that `log()` had written there and returned from (256 rows of a
rotated journal, 32,567 rows of a run's first journal, and once the last 20 rows of a paced
run). Every other page of those files held what was written; no code path that writes the
word was found at fault, and 1,000 kill trials outside the suite never showed it. Whatever
loses that one word, the rows are on disk. So a reader does not take the commit word as the
end: it goes on past it for as long as each record proves whole, and stops at the first
that does not.

A record proves whole when its data ends after the previous record's, inside the data
region, and its data is what its kind must be: as many words as its signature has keys
(from the journal's DEFINE rows, `rows.table_from_defines`), or DEFINE, GENERIC or PACKED
data that decodes to exactly its length. A record slot past the commit point holds zeros
until `log()` writes it: a journal is never reused, `log()` writes a row's data before its
record and the record's `end` last, and the writer zeroes the slot after its last row when
it commits at close or rotation (so a row whose `log()` a KeyboardInterrupt cut short stays
out, as it does for the writer). A split row writes its second (PACKED) record before its
first, so a first record that proves whole has its histograms behind it.

This is the reading side only: nothing is written, and the rows are read where readers read
journal rows (store/rows.py `journal_tail`), sealed by recovery like any other.
"""

from __future__ import annotations

import json
from typing import IO, Any

import numpy as np

from .journal import DEFINE, GENERIC, HEADER, PACKED, REC_DTYPE, JournalDamaged
from .packed_rows import needs_read_here, tidy_values
from .rows import table_from_defines


def read_past(
    f: IO[bytes], records: bytes, committed: int, rows_cap: int, words_cap: int
) -> tuple[bytes, bytes]:
    """The records and data of the journal open as `f`, up to its last record that proves
    whole (`records`: its first `committed` records and the slot after them)."""
    f.seek(HEADER + len(records))
    records += f.read(32 * rows_cap - len(records))
    recs = np.frombuffer(records, REC_DTYPE, count=len(records) // 32)
    unwritten = np.flatnonzero(recs["end"][committed:] == 0)  # (zeros until log() writes)
    last = committed + int(unwritten[0]) if len(unwritten) else len(recs)
    f.seek(HEADER + 32 * rows_cap)
    data = f.read(8 * min(max(int(recs["end"][committed:last].max()), 0), words_cap))
    n = committed + _whole(recs, committed, last, data)
    end = int(recs["end"][n - 1]) if n else 0
    return records[: 32 * n], data[: 8 * end]


def _whole(recs: np.ndarray, committed: int, last: int, data: bytes) -> int:
    """How many of records [committed, last) prove whole, one after the other."""
    try:
        widths = dict(enumerate(table_from_defines(recs[:committed], data)[1].tolist()))
    except (ValueError, KeyError, TypeError, IndexError, JournalDamaged):
        return 0  # a damaged DEFINE among the committed rows: their reader says so
    end = int(recs["end"][committed - 1]) if committed else 0
    kept = 0
    for _, _, sid, new_end in recs[committed:last].tolist():
        blob = data[8 * end : 8 * new_end]
        if not end < new_end <= len(data) // 8 or not _proves_whole(sid, blob, widths):
            break
        if sid == DEFINE and not needs_read_here(d := json.loads(blob)):
            widths[int(d["sid"])] = len(d["keys"])
        end = new_end
        kept += 1
    return kept


def _proves_whole(sid: int, blob: bytes, widths: dict[int, int]) -> bool:
    if sid >= 0:
        return widths.get(sid) == len(blob) // 8
    try:
        if sid == DEFINE:
            d: Any = json.loads(blob)
            return needs_read_here(d) or (int(d["sid"]) >= 0 and type(d["keys"]) is list)
        if sid in (GENERIC, PACKED):
            return type(tidy_values(sid, blob)) is list
    except (ValueError, KeyError, TypeError, IndexError):
        pass
    return False
