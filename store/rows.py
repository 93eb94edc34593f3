"""Committed rows on their way to disk: journal rows turned into Arrow.

`log()` writes each committed row into the writer's journal (store/journal.py): a row whose
values are all float/int/bool as its signature id (store/signatures.py) and float64 values,
other rows as JSON of their tidy values. `journal_batches` turns a range of journal rows back
into tidy record batches with numpy, in the rows' order, for the writer thread and for
recovery alike; `journal_tail` a reader's snapshot's rows past its writer's segments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa

from .arrow_build import (
    after_nulls,
    all_null_strings,
    gather_strings,
    primitive,
    strings,
    tiled_strings,
)
from .inserted_rows import generic_values, inserted_columns
from .journal import (
    DEFINE,
    GENERIC,
    MARK_KEY,
    PACKED,
    REC_DTYPE,
    JournalDamaged,
    JournalSnapshot,
    Mark,
    encode_mark,
)
from .packed_rows import needs_read_here
from .schema import encode_value, segment_schema
from .signatures import Table, signature_table

TIME_TYPE = pa.timestamp("us", tz="UTC")

#: values per record batch: bounds the memory one conversion takes, whatever the backlog
CHUNK_VALUES = 1 << 15


def table_from_defines(records: np.ndarray, data: bytes) -> Table:
    """The signature table a journal's DEFINE rows describe (recovery, in another process)."""
    entries: list[tuple[np.ndarray, np.ndarray] | None] = []
    keys: list[str] = []
    key_codes: dict[str, int] = {}
    defines = np.flatnonzero(records["sid"] == DEFINE)
    for start, end in row_spans(records, defines):
        d = json.loads(bytes(data[8 * start : 8 * end]))
        if needs_read_here(d):
            continue
        sid = int(d["sid"])
        while len(entries) <= sid:
            entries.append(None)
        for k in d["keys"]:
            key_codes.setdefault(k, len(keys))
            if len(keys) < len(key_codes):
                keys.append(k)
        entries[sid] = (
            np.array([key_codes[k] for k in d["keys"]], np.int32),
            np.array(d["kinds"], np.int8),
        )
    return signature_table(entries, keys)


def row_spans(records: np.ndarray, rows: np.ndarray) -> list[tuple[int, int]]:
    """The data word ranges (start, end) of a few of a journal's rows, by their index (each
    starts where the row before it ends): no pass over all the records."""
    ends = records["end"]
    starts = np.where(rows > 0, ends[np.maximum(rows - 1, 0)], 0).tolist()
    return list(zip(starts, ends[rows].tolist(), strict=True))


def row_starts(records: np.ndarray, first_start: int) -> np.ndarray:
    """Where each of `records`' rows' data starts (each where the one before ends)."""
    ends = records["end"]
    starts = np.empty(len(ends), np.int64)
    if len(ends):
        starts[0] = first_start
        starts[1:] = ends[:-1]
    return starts


def row_widths(records: np.ndarray, first_start: int) -> tuple[np.ndarray, np.ndarray]:
    """(where each of `records`' rows' data starts, how many words it holds); ValueError
    when rows overlap (a damaged journal)."""
    starts = row_starts(records, first_start)
    widths = np.ascontiguousarray(records["end"]) - starts
    if (widths < 0).any():
        raise ValueError("journal rows overlap")
    return starts, widths


def journal_batches(
    records: np.ndarray,
    words: np.ndarray,
    data: bytes | memoryview,
    first_start: int,
    table: Table,
    schema: pa.Schema,
    pause: Callable[[], None] | None = None,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Tidy record batches of journal rows `records` (a REC_DTYPE array), in their order,
    each with how many of `records` it reaches; `words` / `data` are the journal's data
    region as float64 / bytes, `first_start` where the first row's data starts; `pause` is
    called as store/inserted_rows.py `generic_values` says. Raises ValueError on rows that
    do not match their signature (a damaged journal)."""
    starts, widths = row_widths(records, first_start)
    cum = np.cumsum(widths)
    r0 = 0
    while r0 < len(records):
        base = int(cum[r0] - widths[r0])
        r1 = max(int(np.searchsorted(cum, base + CHUNK_VALUES, side="right")), r0 + 1)
        batch = _chunk(records[r0:r1], starts[r0:r1], words, data, table, schema, pause)
        if batch is not None:
            yield batch, r1
        r0 = r1


def fast_rows(
    sids: np.ndarray, lengths: np.ndarray, widths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(which of journal rows of signature ids `sids` and data `widths` are of a signature,
    their signatures' `lengths`), the rows checked against them: ValueError on a row of a
    kind this version does not know, of a signature never defined, or not its width."""
    if (sids < PACKED).any():  # never skipped in silence: they may hold what a user logged
        raise ValueError("a journal row of a kind this version does not know (a newer one's?)")
    fast = np.flatnonzero(sids >= 0)
    fs = sids[fast]
    if len(fs) and int(fs.max()) >= len(lengths):
        raise ValueError("a journal row names a signature never defined")
    lens = lengths[fs]
    if (lens != widths[fast]).any():
        raise ValueError("a journal row does not match its signature")
    return fast, lens


def decode_rows(
    rec: np.ndarray,
    starts: np.ndarray,
    words: np.ndarray,
    data: bytes | memoryview,
    table: Table,
    schema: pa.Schema,
) -> list[pa.RecordBatch]:
    """Tidy batches of journal rows `rec` picked out of a journal (not one after the other:
    `starts` says where each one's data starts), in their order; ValueError as
    `journal_batches`. Rows of one signature alone are taken one at a time: `_chunk` reads
    such rows' values as one run of words, which only rows one after the other are."""
    out = []
    for r0 in range(0, len(rec), 4096):
        r, s = rec[r0 : r0 + 4096], starts[r0 : r0 + 4096]
        sids = r["sid"]
        apart = len(r) > 1 and bool((sids >= 0).all()) and bool((sids == sids[0]).all())
        parts = [(r[i : i + 1], s[i : i + 1]) for i in range(len(r))] if apart else [(r, s)]
        out += [b for p in parts if (b := _chunk(*p, words, data, table, schema)) is not None]
    return out


def _chunk(
    rec: np.ndarray,
    starts: np.ndarray,
    words: np.ndarray,
    data: bytes | memoryview,
    table: Table,
    schema: pa.Schema,
    pause: Callable[[], None] | None = None,
) -> pa.RecordBatch | None:
    """One batch of journal rows, built with numpy alone: pyarrow.compute costs ~0.1 s to
    import, which the writer thread would take from the training loop (the GIL)."""
    offsets, lengths, flat_codes, flat_kinds, key_dict = table
    sids = rec["sid"]
    fast, lens = fast_rows(sids, lengths, rec["end"] - starts)
    fs = sids[fast]
    total = int(lens.sum())
    generic = np.flatnonzero((sids == GENERIC) | (sids == PACKED))
    one = total > 0 and bool((fs == fs[0]).all())
    if one and len(fs) == len(rec):  # (no DEFINE row between them either)
        return _one_signature(rec, words[starts[0] : starts[0] + total], table, schema)
    if len(generic):
        g_rows, g_keys, g_vals, g_kinds, g_texts = generic_values(rec, starts, generic, data, pause)
        if one:
            g = (np.array(g_rows, np.int64), g_keys, g_vals, g_kinds, g_texts)
            return _batch(*inserted_columns(rec, starts[fast], fast, words, g, table), schema)
    within = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    kidx = np.repeat(offsets[fs], lens) + within
    row_of = np.repeat(fast, lens)
    codes = flat_codes[kidx]
    values = words[np.repeat(starts[fast], lens) + within]
    kinds = flat_kinds[kidx]
    if not len(generic):
        if total == 0:
            return None
        keys: pa.Array = gather_strings(key_dict, codes)
        nulls, texts = None, all_null_strings(total)
    else:
        # the generic values go after the fast ones, then a stable sort by row puts every
        # value in place: the generic ones keep their order. Only they are Python objects.
        rows_all = np.concatenate([row_of, np.array(g_rows, np.int64)])
        order = np.argsort(rows_all, kind="stable")
        row_of = rows_all[order]
        both = strings(key_dict.to_pylist() + g_keys)  # the signatures' keys, then these
        g_codes = len(key_dict) + np.arange(len(g_keys))
        keys = gather_strings(both, np.concatenate([codes, g_codes])[order])
        g_null = np.array([v is None for v in g_vals], bool)
        g_num = np.array([0.0 if v is None else v for v in g_vals], np.float64)
        values = np.concatenate([values, g_num])[order]
        nulls = np.concatenate([np.zeros(total, bool), g_null])[order]
        kinds = np.concatenate([kinds, np.array(g_kinds, np.int8)])[order]
        texts = after_nulls(total, g_texts, order)
        total = len(order)
    return _batch(
        rec["step"][row_of], rec["time"][row_of], keys, values, nulls, kinds, texts, schema
    )


def _one_signature(
    rec: np.ndarray, values: np.ndarray, table: Table, schema: pa.Schema
) -> pa.RecordBatch:
    """Rows of one signature and nothing else (a loop logging the same dict, the common
    case): their values lie one after the other, their keys and kinds repeat."""
    offsets, lengths, flat_codes, flat_kinds, key_dict = table
    sid = int(rec["sid"][0])
    o, n = int(offsets[sid]), int(lengths[sid])
    keys = tiled_strings(gather_strings(key_dict, flat_codes[o : o + n]), len(rec))
    kinds = np.tile(flat_kinds[o : o + n], len(rec))
    steps, times = np.repeat(rec["step"], n), np.repeat(rec["time"], n)
    texts = all_null_strings(len(values))
    return _batch(steps, times, keys, values, None, kinds, texts, schema)


def _batch(
    steps: np.ndarray,
    times: np.ndarray,
    keys: pa.Array,
    values: np.ndarray,
    nulls: np.ndarray | None,
    kinds: np.ndarray,
    texts: pa.Array,
    schema: pa.Schema,
) -> pa.RecordBatch:
    """A tidy batch from its columns (`times` in seconds)."""
    return pa.RecordBatch.from_arrays(
        [
            primitive(steps.astype(np.int64), pa.int64()),
            primitive((times * 1e6).astype(np.int64), TIME_TYPE),
            keys,
            primitive(values.astype(np.float64), pa.float64(), nulls),
            primitive(kinds.astype(np.int8), pa.int8()),
            texts,
        ],
        schema=schema,
    )


def records_view(buf: Any, offset: int, count: int) -> np.ndarray:
    return np.frombuffer(buf, REC_DTYPE, count=count, offset=offset)


def mixed_batch(rows: list[tuple[int, float, dict[str, Any]]], schema: pa.Schema) -> pa.RecordBatch:
    """Tidy rows of a few dicts (system-metrics samples: rare, any values)."""
    counts = [len(r[2]) for r in rows]
    enc = [encode_value(v) for r in rows for v in r[2].values()]
    return _batch(
        np.repeat(np.array([r[0] for r in rows], np.int64), counts),
        np.repeat(np.array([r[1] for r in rows], np.float64), counts),
        strings([k for r in rows for k in r[2]]),
        np.array([0.0 if e[0] is None else e[0] for e in enc], np.float64),
        np.array([e[0] is None for e in enc], bool),
        np.array([e[1] for e in enc], np.int8),
        strings([e[2] for e in enc]),
        schema,
    )


def tail_start(
    snap: JournalSnapshot, covered: Mark | None, after_step: int | None = None
) -> int | None:
    """The first row of a journal snapshot past `covered` (the highest mark of its writer's
    segments), and of a step above `after_step` if given; None if there is none."""
    jseq = int(snap.meta.get("jseq", 0))
    start = 0
    if covered is not None:
        if covered[0] > jseq:
            return None
        if covered[0] == jseq:
            start = covered[1]
    if start >= snap.rows:
        return None
    if after_step is not None:
        later = np.flatnonzero(np.frombuffer(snap.records, REC_DTYPE)["step"][start:] > after_step)
        if not len(later):
            return None
        start += int(later[0])
    return start


def tail_table(snap: JournalSnapshot, batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """A journal tail's batches as one table carrying the snapshot's mark (all its rows)."""
    mark = encode_mark((int(snap.meta.get("jseq", 0)), snap.rows))
    out = pa.Table.from_batches(batches, schema=schema)
    return out.replace_schema_metadata({**(schema.metadata or {}), MARK_KEY: mark})


def journal_tail(
    snap: JournalSnapshot, covered: Mark | None, after_step: int | None = None
) -> pa.Table | None:
    """The rows of a journal snapshot past `covered` (the highest mark of its writer's
    segments), as a table carrying its own mark; None if segments hold them all. Raises
    JournalDamaged when the rows do not hold together. `after_step`: the rows before the
    first of a higher step are left out, not decoded (a killed writer's rows after its
    heartbeat, store/summary_tail.py, which drops any later row of no higher step)."""
    start = tail_start(snap, covered, after_step)
    if start is None:
        return None
    records = np.frombuffer(snap.records, REC_DTYPE)
    data = snap.data
    words = np.frombuffer(data, np.float64, count=len(data) // 8)
    schema = segment_schema(str(snap.meta.get("writer", "")), str(snap.meta.get("label", "")))
    with damaged_as(snap):
        table = table_from_defines(records, data)
        first = int(records["end"][start - 1]) if start else 0
        batches = [
            b for b, _ in journal_batches(records[start:], words, data, first, table, schema)
        ]
    return tail_table(snap, batches, schema)


@contextmanager
def damaged_as(snap: JournalSnapshot) -> Iterator[None]:
    """Rows of `snap` that do not hold together (what decoding them raises) as
    JournalDamaged naming the journal: for every reader of a journal's rows."""
    try:
        yield
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise JournalDamaged(f"journal {snap.path} is damaged: {e}") from e
