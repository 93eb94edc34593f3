"""A killed writer's journal rows read without decoding them all: what the index says of
them (`journal_facts`), and the few a summary of last values needs (`journal_lasts`).

The index describes a killed writer's journals (store/describe_segments.py) by what their
rows past its segments' mark hold: how many values, their step and time ranges, their keys.
Decoding those rows into a tidy table to count them (store/rows.py `journal_tail`) costs
~6 ms of CPU a journal of 65k rows, and a writer killed in a hot loop leaves a dozen: most of
a killed run's description. A row of a signature holds as many values as the signature has
keys, and its step and time are in its 32-byte record, so only the few GENERIC and PACKED
rows (JSON) are decoded here. The rows are checked as `journal_tail` checks them: a journal
it would call damaged is damaged here too.

A killed writer's caught-up summary (store/summary_tail.py) needs its rows after its last
beat: the data of those alone is read (`words_after`), and when every key's rule is "last",
only each signature's last row of its highest step (and one of its latest time, the run's
last row's time) is decoded, with every JSON row, whose keys are in its data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .inserted_rows import generic_values
from .journal import (
    DEFINE,
    GENERIC,
    PACKED,
    REC_DTYPE,
    JournalSnapshot,
    Mark,
    Wanted,
)
from .rows import (
    damaged_as,
    decode_rows,
    fast_rows,
    row_spans,
    row_widths,
    table_from_defines,
    tail_start,
    tail_table,
)
from .schema import segment_schema
from .segment_files import journal_covered


@dataclass(frozen=True)
class JournalFacts:
    """A journal tail's values, (step min, max), (time min, max in epoch seconds), keys, and
    its writer's label ("" for a journal whose rows segments hold all, as an empty table's)."""

    label: str = ""
    values: int = 0
    steps: tuple[int | None, int | None] = (None, None)
    times: tuple[float | None, float | None] = (None, None)
    keys: tuple[str, ...] = ()


def journal_facts(snap: JournalSnapshot, covered: Mark | None) -> JournalFacts:
    """The facts of the rows of `snap` past `covered` (its writer's segments' highest mark),
    the rows `journal_tail` would return; raises JournalDamaged as it does."""
    start = tail_start(snap, covered)
    if start is None:
        return JournalFacts()
    records = np.frombuffer(snap.records, REC_DTYPE)
    with damaged_as(snap):
        return _facts(records, snap.data, start, str(snap.meta.get("label", "")))


def _facts(records: np.ndarray, data: bytes, start: int, label: str) -> JournalFacts:
    table = table_from_defines(records, data)
    offsets, lengths, flat_codes, _, key_dict = table
    rows = _Rows(records, start, data, lengths)
    counts = rows.counts
    held = counts > 0
    if not held.any():
        return JournalFacts(label)
    used = np.flatnonzero(np.bincount(rows.sids[rows.fast], minlength=len(lengths)))
    codes = [flat_codes[offsets[s] : offsets[s] + lengths[s]] for s in used.tolist()]
    names = key_dict.take(np.unique(np.concatenate(codes))).to_pylist() if codes else []
    steps = rows.rec["step"][held]
    times = (rows.rec["time"][held] * 1e6).astype(np.int64)  # as the tidy rows store them
    return JournalFacts(
        label,
        int(counts.sum()),
        (int(steps.min()), int(steps.max())),
        (int(times.min()) / 1e6, int(times.max()) / 1e6),
        tuple(dict.fromkeys([*names, *rows.generic_keys])),
    )


class _Rows:
    """A journal's rows from `start` on, checked as store/rows.py `journal_batches` checks
    them (ValueError): where each one's data starts, which are of a signature (`fast`) and
    which JSON (`generic`, decoded), and how many values each holds (`counts`)."""

    def __init__(self, records: np.ndarray, start: int, data: bytes, lengths: np.ndarray):
        self.rec = rec = records[start:]
        # (whole columns, one pass each: the records' fields are strided)
        self.starts, widths = row_widths(rec, int(records["end"][start - 1]) if start else 0)
        self.sids = sids = np.ascontiguousarray(rec["sid"])
        self.fast, lens = fast_rows(sids, lengths, widths)
        self.counts = np.zeros(len(rec), np.int64)
        self.counts[self.fast] = lens
        self.generic = np.flatnonzero((sids == GENERIC) | (sids == PACKED))
        self.generic_keys: list[str] = []
        if len(self.generic):
            g_rows, self.generic_keys, *_ = generic_values(
                rec, self.starts, self.generic, data, None
            )
            np.add.at(self.counts, np.array(g_rows, np.int64), 1)


def journal_lasts(snap: JournalSnapshot, covered: Mark | None, after_step: int) -> pa.Table | None:
    """Of the rows of `snap` past `covered` of a step above `after_step`, those a summary of
    last values needs (store/summary_tail.py, when every key's rule is "last"): of each
    signature's rows, the last of its highest step (its keys' last values) and one of its
    latest time; every JSON row. A table carrying the journal's mark, as `journal_tail`'s,
    None when no row is left; raises JournalDamaged as it does (every row is checked)."""
    start = tail_start(snap, covered, after_step)  # (the rows `words_after` read the data of)
    if start is None:
        return None
    records = np.frombuffer(snap.records, REC_DTYPE)
    data = snap.data
    writer, label = str(snap.meta.get("writer", "")), str(snap.meta.get("label", ""))
    schema = segment_schema(writer, label)
    with damaged_as(snap):
        table = table_from_defines(records, data)
        rows = _Rows(records, start, data, table[1])
        later_rows = (rows.rec["step"] > after_step) & (rows.counts > 0)
        fast = rows.fast[later_rows[rows.fast]]
        picked = [rows.generic[later_rows[rows.generic]]]
        if len(fast):
            picked.append(_last_rows(fast, *(rows.rec[c][fast] for c in ("sid", "step", "time"))))
        keep = np.unique(np.concatenate(picked))
        if not len(keep):
            return None
        words = np.frombuffer(data, np.float64, count=len(data) // 8)
        batches = decode_rows(rows.rec[keep], rows.starts[keep], words, data, table, schema)
    return tail_table(snap, batches, schema)


def _last_rows(fast: np.ndarray, sid: np.ndarray, step: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Of rows `fast` (their signatures, steps and times), each signature's last of its
    highest step and one of its latest time. A few signatures (a loop's): a pass each."""
    used = np.flatnonzero(np.bincount(sid))
    if len(used) > 8:
        by_step = fast[np.lexsort((fast, step, sid))]  # each signature's last: its highest
        by_time = fast[np.lexsort((fast, time, sid))]
        ends = np.flatnonzero(np.diff(np.sort(sid), append=np.iinfo(np.int64).max))
        return np.concatenate([by_step[ends], by_time[ends]])
    out = []
    for s in used.tolist():
        mine = np.flatnonzero(sid == s)
        steps = step[mine]
        out += [mine[len(mine) - 1 - int(np.argmax(steps[::-1]))], mine[int(np.argmax(time[mine]))]]
    return fast[np.array(out, np.int64)]


def words_after(step: int) -> Wanted:
    """`JournalSnapshot.read`'s `wanted` for a reader of a journal's rows from its first of
    a step above `step` on (`journal_lasts`, store/rows.py `journal_tail` with `after_step`):
    their data, and its signatures' definitions before them."""

    def wanted(records: bytes) -> list[tuple[int, int]]:
        rec = np.frombuffer(records, REC_DTYPE)
        later = np.flatnonzero(rec["step"] > step)
        first = int(later[0]) if len(later) else len(rec)
        ranges = row_spans(rec, np.flatnonzero(rec["sid"][:first] == DEFINE))
        if first < len(rec):
            ranges.append((row_spans(rec, np.array([first]))[0][0], int(rec["end"][-1])))
        return ranges

    return wanted


def _json_words(records: bytes) -> list[tuple[int, int]] | None:
    """`JournalSnapshot.read`'s `wanted` for `journal_facts`: the words of the DEFINE and
    JSON rows (all of them when there are many: one read costs less than thousands)."""
    rec = np.frombuffer(records, REC_DTYPE)
    rows = np.flatnonzero(rec["sid"] < 0)
    return row_spans(rec, rows) if len(rows) <= 256 else None


def read_journal_facts(path: Path) -> tuple[JournalFacts, str | None]:
    """(the facts of the rows of a journal file its writer's segments lack, why some rows
    were left out or None), as store/segment_files.py `read_journal_checked` reads them:
    the journal first, its writer's segments' marks after. Raises FileNotFoundError if it
    is gone, JournalDamaged."""
    snap = JournalSnapshot.read(path, _json_words)
    return journal_facts(snap, journal_covered(path)), snap.note
