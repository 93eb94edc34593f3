"""Long rows -> integer codes: each row's key (or writer) as its place in the sorted list of
names, and each row's logical row (step, writer) as its rank among the (step, writer) pairs.

The passes over the rows are split between two threads for long reads
(store/two_threads.py); the names are found from the files' dictionaries, never by looking
at the rows' strings.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .two_threads import halves


def codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Each value's index in the sorted list of distinct values, and that list.

    Works on plain strings and on dictionaries (each chunk may have its own): only the
    dictionaries are compared as strings, never the rows."""
    coder = Coder(col)
    if len(coder.names) <= 1:  # one writer, or one key: no row to look at
        return np.zeros(len(col), np.int64), coder.names.to_pylist()
    out = np.empty(len(col), np.int64)
    halves(lambda a, b: coder.fill(out, a, b), len(col))
    return out, coder.names.to_pylist()


class Coder:
    """A string column's distinct values, sorted (`names`), and how each chunk's own
    dictionary codes map to their places in `names`."""

    def __init__(self, col: pa.ChunkedArray, only: Collection[str] | None = None) -> None:
        chunks = [
            c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c) for c in col.chunks
        ]
        dicts = [_as_string(c.dictionary) for c in chunks]
        names = pc.unique(pa.concat_arrays(dicts)) if dicts else pa.array([], pa.string())
        if only is not None:  # a file's dictionary also names the keys of rows read past
            names = names.filter(pc.is_in(names, value_set=pa.array(list(only), pa.string())))
        self.names: pa.Array = names.take(pc.sort_indices(names))
        # each file's dictionary of keys is usually the whole, sorted: no map; the others
        # are looked up in `names` at once (one hash of `names`, not one a chunk)
        other = [i for i, d in enumerate(dicts) if not d.equals(self.names)]
        maps: list[np.ndarray | None] = [None] * len(chunks)
        if other:
            found = pc.index_in(pa.concat_arrays([dicts[i] for i in other]), value_set=self.names)
            found = pc.fill_null(found, -1)  # names of no row read (`only`)
            at = np.cumsum([0] + [len(dicts[i]) for i in other]).tolist()
            places = found.to_numpy(zero_copy_only=False)
            for n, i in enumerate(other):
                maps[i] = places[at[n] : at[n + 1]]
                if only is not None and _names_a_row(maps[i], chunks[i].indices):
                    self.__init__(col)  # rows of keys not asked for (a reader that sends
                    return  # them): every key is named, as without `only`
        self._chunks = [(c.indices, m) for c, m in zip(chunks, maps, strict=True)]

    def fill(
        self, out: np.ndarray, a: int, b: int, scale: int = 1, plus: np.ndarray | None = None
    ) -> None:
        """`out[i] = code(i) * scale + plus[i]` for i in [a, b), a chunk at a time."""
        pos = 0
        for indices, remap in self._chunks:
            lo, hi = max(a, pos), min(b, pos + len(indices))
            if lo < hi:
                idx = indices.slice(lo - pos, hi - lo).to_numpy(zero_copy_only=False)
                at = out[lo:hi]
                np.multiply(idx if remap is None else remap[idx], scale, out=at)
                if plus is not None:
                    at += plus[lo:hi]
            pos += len(indices)


def _names_a_row(remap: np.ndarray, indices: pa.Array) -> bool:
    """Whether a row's dictionary code maps to no name (-1 in `remap`)."""
    if not (remap < 0).any():
        return False
    used = np.bincount(indices.to_numpy(zero_copy_only=False), minlength=len(remap))
    return bool(used[remap < 0].any())


def _as_string(a: pa.Array) -> pa.Array:
    return a if a.type == pa.string() else a.cast(pa.string())


def row_index(row_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each tidy row, the index of its logical row (`row_key`: step, or step x writers
    + writer), and the sorted distinct row keys."""
    m = len(row_key)
    if not m:
        return row_key, row_key
    ends: list[tuple[int, int]] = []
    halves(lambda a, b: ends.append((int(row_key[a:b].min()), int(row_key[a:b].max()))), m)
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    if hi - lo >= 4 * m + 4096:  # sparse steps: a sort
        uniq, inverse = np.unique(row_key, return_inverse=True)
        return inverse.reshape(-1), uniq
    # dense steps (the usual run): a bitmap, O(n)
    seen = np.zeros(hi - lo + 1, bool)
    halves(lambda a, b: seen.__setitem__(row_key[a:b] - lo, True), m)  # each writes True
    if seen.all():  # every step from the first to the last: the row is the step
        if not lo:
            return row_key, np.arange(hi + 1)
        row = np.empty(m, np.int64)
        halves(lambda a, b: np.subtract(row_key[a:b], lo, out=row[a:b]), m)
        return row, np.arange(lo, hi + 1)
    rank = np.cumsum(seen) - 1
    row = np.empty(m, np.int64)
    halves(lambda a, b: np.take(rank, row_key[a:b] - lo, out=row[a:b]), m)
    return row, np.flatnonzero(seen) + lo
