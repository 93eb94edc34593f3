"""Committed rows on their way to disk: the training thread's buffer and its conversion to Arrow.

`log()` appends a row to a `RowBuffer` in C arrays (no Python object outlives the call); the
writer turns whole buffers into tidy record batches (`rows_to_batches`).

Asynchronous exceptions: a KeyboardInterrupt, or whatever a script's signal handler raises,
may land between any two bytecodes of `log()`. A row is therefore committed by one attribute
store (`RowBuffer.n`, the committed counts) after all its values are in the arrays; elements
past the committed counts are the remains of an interrupted append, cut off by the next append
(`RowBuffer.add_*`) and never read by the converter. A row is kept whole or not at all.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from .media_ref import sync_media
from .schema import BOOL, FLOAT, INT, encode_value

#: a row's signature: its keys and the types of its values, in order
Signature = tuple[tuple[str, ...], tuple[type, ...]]

_FAST_KINDS = {float: FLOAT, int: INT, bool: BOOL}
#: ints beyond this are not exact as float64: their rows take the generic path
EXACT_INT = 2**53

#: values per record batch: bounds the memory one conversion takes, whatever the backlog
CHUNK_VALUES = 131072


def signature(row: dict[str, Any]) -> Signature:
    return tuple(row), tuple(map(type, row.values()))


class RowBuffer:
    """Committed rows, as cheap as possible for the training thread to append.

    A row whose values are all float/int/bool is stored as its step, time, signature id and
    values in C arrays: a backlog costs ~100 bytes a row and fragments nothing, and the
    converter rebuilds the key and kind columns from the signature table with numpy. Other
    rows (strings, None, ints beyond 2**53) keep their dict and take the generic path.

    `n` = (fast rows, fast values, generic rows) committed: the only truth about what the
    buffer holds (see the module docstring). `batches` is set once the rows are converted;
    `claimed` while the writer thread converts them outside the lock.
    """

    __slots__ = ("batches", "claimed", "mixed", "n", "sigs", "steps", "times", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.times = array("d")
        self.sigs = array("q")
        self.values = array("d")
        self.mixed: list[tuple[int, float, dict[str, Any]]] = []
        self.n = (0, 0, 0)
        self.batches: deque[pa.RecordBatch] | None = None
        self.claimed = False

    @property
    def rows(self) -> int:
        return self.n[0] + self.n[2]

    def __bool__(self) -> bool:
        return self.n != (0, 0, 0)

    def value_count(self) -> int:
        """Tidy rows (one per value) these rows make, or still hold once converted."""
        if self.batches is not None:
            return sum(b.num_rows for b in self.batches)
        return self.n[1] + sum(len(r[2]) for r in self.mixed[: self.n[2]])

    def _trim(self) -> None:
        """Drop what an interrupted append left past the committed counts."""
        rows, nvalues, nmixed = self.n
        del self.steps[rows:], self.times[rows:], self.sigs[rows:]
        del self.values[nvalues:], self.mixed[nmixed:]

    def add_fast(self, step: int, t: float, sid: int, values: Any) -> None:
        rows, nvalues, nmixed = self.n
        if len(self.sigs) != rows or len(self.values) != nvalues or len(self.mixed) != nmixed:
            self._trim()
        self.steps.append(step)
        self.times.append(t)
        self.sigs.append(sid)
        self.values.extend(values)
        self.n = (rows + 1, len(self.values), nmixed)  # the commit point

    def add_mixed(self, step: int, t: float, row: dict[str, Any]) -> None:
        rows, nvalues, nmixed = self.n
        if len(self.mixed) != nmixed:
            del self.mixed[nmixed:]
        self.mixed.append((step, t, row))
        self.n = (rows, nvalues, nmixed + 1)  # the commit point


class SignatureTable:
    """Signature ids and, per id, the key codes and kinds of its values (append-only).

    `ids` holds every signature validated so far (-1 for rows that take the generic path);
    readers may `get` from it without the lock, `register` must hold it. Each id's entry is
    appended in one call and named in `ids` last, so an interrupted `register` leaves at most
    an entry (or a key) that no committed row uses."""

    def __init__(self) -> None:
        self.ids: dict[Signature, int] = {}
        self.key_codes: dict[str, int] = {}
        self.keys: list[str] = []
        #: per id: (key codes, kinds, whether any value is an int)
        self._entries: list[tuple[np.ndarray, np.ndarray, bool]] = []
        self._snapshot: tuple[Any, ...] | None = None

    def register(self, sig: Signature) -> int:
        """Id of `sig`, or -1 if its rows cannot take the fast path."""
        keys, types = sig
        if not all(t in _FAST_KINDS for t in types):
            self.ids[sig] = -1
            return -1
        codes = []
        for k in keys:
            if k not in self.key_codes:
                self.keys.append(k)
                self.key_codes[k] = len(self.keys) - 1
            codes.append(self.key_codes[k])
        kinds = np.array([_FAST_KINDS[t] for t in types], np.int8)
        self._entries.append((np.array(codes, np.int32), kinds, int in types))
        sid = len(self._entries) - 1
        self._snapshot = None
        self.ids[sig] = sid
        return sid

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
        """(offsets, lengths, flat key codes, flat kinds, key dictionary) of every id so far."""
        snap = self._snapshot
        if snap is None:
            entries = list(self._entries)
            lengths = np.array([len(e[0]) for e in entries], np.int64)
            offsets = np.cumsum(lengths) - lengths
            codes = [e[0] for e in entries]
            kinds = [e[1] for e in entries]
            flat_codes = np.concatenate(codes) if codes else np.zeros(0, np.int32)
            flat_kinds = np.concatenate(kinds) if kinds else np.zeros(0, np.int8)
            snap = (offsets, lengths, flat_codes, flat_kinds, pa.array(self.keys, pa.string()))
            self._snapshot = snap
        return snap

    def fast_ok(self, sid: int, row: dict[str, Any]) -> bool:
        """Whether a row of signature `sid` can take the fast path (ints exact as floats)."""
        return sid >= 0 and not (
            self._entries[sid][2]
            and not all(-EXACT_INT <= v <= EXACT_INT for v in row.values() if type(v) is int)
        )


def _fast_batches(
    buf: RowBuffer, table: tuple[Any, ...], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    offsets, lengths, flat_codes, flat_kinds, key_dict = table
    nrows, nvalues, _ = buf.n
    sids = np.frombuffer(buf.sigs, np.int64)[:nrows]
    lens = lengths[sids]
    ends = np.cumsum(lens)
    steps = np.frombuffer(buf.steps, np.int64)[:nrows]
    times_us = (np.frombuffer(buf.times, np.float64)[:nrows] * 1e6).astype(np.int64)
    values = np.frombuffer(buf.values, np.float64)[:nvalues]
    r0 = 0
    while r0 < len(sids):
        v0 = int(ends[r0] - lens[r0])
        r1 = max(int(np.searchsorted(ends, v0 + CHUNK_VALUES, side="right")), r0 + 1)
        rl = lens[r0:r1]
        total = int(rl.sum())
        idx = np.repeat(offsets[sids[r0:r1]] - (np.cumsum(rl) - rl), rl) + np.arange(total)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(np.repeat(steps[r0:r1], rl)),
                pa.array(np.repeat(times_us[r0:r1], rl), pa.timestamp("us", tz="UTC")),
                key_dict.take(pa.array(flat_codes[idx])),
                pa.array(values[v0 : v0 + total]),
                pa.array(flat_kinds[idx]),
                pa.nulls(total, pa.string()),
            ],
            schema=schema,
        )
        r0 = r1


def _mixed_batch(
    rows: list[tuple[int, float, dict[str, Any]]], schema: pa.Schema
) -> pa.RecordBatch:
    counts = [len(r[2]) for r in rows]
    enc = [encode_value(v) for r in rows for v in r[2].values()]
    sync_media(v for r in rows for v in r[2].values())  # media files durable before the rows
    times_us = (np.array([r[1] for r in rows], np.float64) * 1e6).astype(np.int64)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.repeat(np.array([r[0] for r in rows], np.int64), counts)),
            pa.array(np.repeat(times_us, counts), pa.timestamp("us", tz="UTC")),
            pa.array([k for r in rows for k in r[2]], pa.string()),
            pa.array([e[0] for e in enc], pa.float64()),
            pa.array(np.array([e[1] for e in enc], np.int8)),
            pa.array([e[2] for e in enc], pa.string()),
        ],
        schema=schema,
    )


def rows_to_batches(
    buf: RowBuffer, table: tuple[Any, ...], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Tidy record batches (of at most ~CHUNK_VALUES rows) of a buffer's committed rows."""
    if buf.n[0]:
        yield from _fast_batches(buf, table, schema)
    mixed = buf.mixed[: buf.n[2]]
    step = max(1, CHUNK_VALUES // 16)
    for i in range(0, len(mixed), step):
        yield _mixed_batch(mixed[i : i + step], schema)
