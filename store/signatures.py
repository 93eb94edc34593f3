"""Row signatures: a row's keys and value types, and the table of ids `log()` registers them
under (store/rowlog.py writes each id's DEFINE row into the journal; store/rows.py reads a
journal's back with `table_from_defines`). A row whose signature holds only float/int/bool
values takes the fast path: its values go into the journal as float64 words.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from .arrow_build import strings
from .schema import BOOL, FLOAT, INT

#: a row's signature: its keys and the types of its values, in order
Signature = tuple[tuple[str, ...], tuple[type, ...]]

_FAST_KINDS = {float: FLOAT, int: INT, bool: BOOL}
#: ints beyond this are not exact as float64: their rows take the generic path
EXACT_INT = 2**53

#: (offsets, lengths, flat key codes, flat kinds, key dictionary) per signature id
Table = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]


def signature(row: dict[str, Any]) -> Signature:
    return tuple(row), tuple(map(type, row.values()))


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
        #: per id: (key codes, kinds, whether its ints are exact as float64s or None)
        self._entries: list[tuple[np.ndarray, np.ndarray, Callable[..., bool] | None]] = []
        #: per id: packs its values into the journal (struct.Struct.pack_into)
        self.packers: list[Callable[..., None]] = []
        self._snapshot: Table | None = None

    def register(self, sig: Signature) -> int:
        """Id of `sig`, or -1 if its rows cannot take the fast path. A known signature lets
        later rows skip validation (flightlog/_values.py), so one holding a list is never
        recorded: a signature says "list", not what the next list holds (an Image, a numpy
        scalar), and each such row is checked again."""
        keys, types = sig
        if not all(t in _FAST_KINDS for t in types):
            if list not in types:
                self.ids[sig] = -1
            return -1
        codes = []
        for k in keys:
            if k not in self.key_codes:
                self.keys.append(k)
                self.key_codes[k] = len(self.keys) - 1
            codes.append(self.key_codes[k])
        kinds = np.array([_FAST_KINDS[t] for t in types], np.int8)
        ints = [k for k, t in zip(keys, types, strict=True) if t is int]
        entry = (np.array(codes, np.int32), kinds, _exact_ints(ints))
        # a KeyboardInterrupt between the two appends of an earlier call left a packer
        # with no entry: every later id would be packed by its predecessor's packer
        del self.packers[len(self._entries) :]
        self.packers.append(struct.Struct(f"<{len(keys)}d").pack_into)
        self._entries.append(entry)
        sid = len(self._entries) - 1
        self._snapshot = None
        self.ids[sig] = sid
        return sid

    def definition(self, sid: int) -> tuple[list[str], list[int]]:
        """(keys, kinds) of `sid`, as a journal records it."""
        codes, kinds, _ = self._entries[sid]
        return [self.keys[c] for c in codes.tolist()], kinds.tolist()

    def snapshot(self) -> Table:
        """(offsets, lengths, flat key codes, flat kinds, key dictionary) of every id so far."""
        snap = self._snapshot
        if snap is None:
            entries = list(self._entries)
            snap = signature_table([(e[0], e[1]) for e in entries], list(self.keys))
            self._snapshot = snap
        return snap

    def fast_ok(self, sid: int, row: dict[str, Any]) -> bool:
        """Whether a row of signature `sid` can take the fast path (ints exact as floats)."""
        if sid < 0:
            return False
        exact = self._entries[sid][2]
        return exact is None or exact(row)


def _exact_ints(keys: list[str]) -> Callable[[dict[str, Any]], bool] | None:
    """A check that the ints of a row under `keys` are exact as float64s (None: no ints), as
    straight-line code: a generator over the row's values cost log() ~0.4 µs a row (the keys
    are bound as globals, never spliced into the source)."""
    if not keys:
        return None
    env: dict[str, Any] = {f"k{i}": k for i, k in enumerate(keys)}
    env["E"] = EXACT_INT
    test = " and ".join(f"-E <= r[k{i}] <= E" for i in range(len(keys)))
    return eval(f"lambda r: {test}", env)  # type: ignore[no-any-return]


def signature_table(entries: list[tuple[np.ndarray, np.ndarray] | None], keys: list[str]) -> Table:
    """A signature table from (codes, kinds) per id (None: an id not defined: no values)."""
    codes = [e[0] if e else np.zeros(0, np.int32) for e in entries]
    kinds = [e[1] if e else np.zeros(0, np.int8) for e in entries]
    lengths = np.array([len(c) for c in codes], np.int64)
    offsets = np.cumsum(lengths) - lengths
    flat_codes = np.concatenate(codes) if codes else np.zeros(0, np.int32)
    flat_kinds = np.concatenate(kinds) if kinds else np.zeros(0, np.int8)
    return offsets, lengths, flat_codes, flat_kinds, strings(keys)
